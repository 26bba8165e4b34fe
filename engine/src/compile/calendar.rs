//! `calendar` blocks → [`Calendar`].

use jiff::civil::Date;
use jiff::tz::TimeZone;
use whistle_grammar::ast::{self, CalendarItem};
use whistle_grammar::diag::Diagnostic;
use whistle_grammar::source::Span;

use super::Ctx;
use crate::calendar::{Calendar, DayInterval};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day(ctx: &mut Ctx<'_>, id: &ast::Ident) -> Option<usize> {
    let d = DAYS.iter().position(|d| *d == id.name);
    if d.is_none() {
        ctx.push(
            Diagnostic::error("E0102", id.span, format!("unknown weekday `{}`", id.name))
                .with_help("weekdays are `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`"),
        );
    }
    d
}

fn date(d: ast::Date) -> Option<Date> {
    Date::new(d.year, d.month, d.day).ok()
}

/// The longest `holiday` or `workday` range taken: a year.
const LONGEST_RANGE: usize = 366;

/// A range longer than this is taken, with a warning: public holidays and
/// make-up days run a few days, so a month of them is most likely a
/// mistyped date.
const LONG_RANGE: usize = 31;

/// Expands a `holiday` or `workday` (`kind`) `from[..to]` into dates;
/// reports a range that runs backwards or is too long to be meant.
fn dates(
    ctx: &mut Ctx<'_>,
    kind: &str,
    from: ast::Date,
    to: Option<ast::Date>,
    span: whistle_grammar::source::Span,
) -> Vec<Date> {
    let (Some(a), Some(b)) = (date(from), date(to.unwrap_or(from))) else {
        return Vec::new();
    };
    if b < a {
        ctx.error("E0802", span, "this date range ends before it starts");
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut d = a;
    while d <= b && out.len() <= LONGEST_RANGE {
        out.push(d);
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    if out.len() > LONGEST_RANGE {
        ctx.error(
            "E0808",
            span,
            format!(
                "this `{kind}` range runs from {a} to {b}, more than {LONGEST_RANGE} days: is a year mistyped?"
            ),
        );
        return Vec::new();
    }
    if out.len() > LONG_RANGE {
        ctx.push(Diagnostic::warning(
            "W0809",
            span,
            format!(
                "this `{kind}` range is {} days long ({a} to {b}): is a date mistyped?",
                out.len()
            ),
        ));
    }
    out
}

/// Compiles every calendar (so each is checked) and returns the one the
/// policy header names.
pub(super) fn compile_calendars(
    ctx: &mut Ctx<'_>,
    calendars: &[&ast::CalendarDecl],
    chosen: Option<&ast::Ident>,
    tz: TimeZone,
) -> Option<Calendar> {
    let mut result = None;
    for c in calendars {
        let mut week: [Vec<DayInterval>; 7] = Default::default();
        // Where each day's intervals were written, for the overlap warning.
        let mut written: [Vec<(DayInterval, Span)>; 7] = Default::default();
        let mut holidays = Vec::new();
        let mut workdays = Vec::new();
        for item in &c.items {
            match item {
                CalendarItem::Week {
                    days,
                    intervals,
                    span,
                } => {
                    let mut which = Vec::new();
                    for ds in days {
                        let (Some(a), b) =
                            (day(ctx, &ds.from), ds.to.as_ref().map(|t| day(ctx, t)))
                        else {
                            continue;
                        };
                        match b {
                            None => which.push(a),
                            Some(Some(b)) if b >= a => which.extend(a..=b),
                            Some(Some(_)) => {
                                ctx.error("E0802", *span, "a weekday range runs from an earlier to a later day (`mon..fri`)");
                            }
                            Some(None) => {}
                        }
                    }
                    for (from, to) in intervals {
                        if to.minutes <= from.minutes {
                            ctx.error(
                                "E0802",
                                *span,
                                "a working interval must end after it starts",
                            );
                            continue;
                        }
                        let interval = DayInterval {
                            start: u32::from(from.minutes) * 60,
                            end: u32::from(to.minutes) * 60,
                        };
                        for &d in &which {
                            week[d].push(interval);
                            written[d].push((interval, *span));
                        }
                    }
                }
                CalendarItem::Holiday(from, to, _, span) => holidays.extend(
                    dates(ctx, "holiday", *from, *to, *span)
                        .into_iter()
                        .map(|d| (d, *span)),
                ),
                CalendarItem::Workday(from, to, _, span) => workdays.extend(
                    dates(ctx, "workday", *from, *to, *span)
                        .into_iter()
                        .map(|d| (d, *span)),
                ),
            }
        }
        overlaps(ctx, &mut written);
        // A day both off and on: which wins would be the engine's guess.
        // One error per pair of lines, naming the days they share.
        let off: std::collections::HashMap<Date, Span> = holidays.iter().rev().copied().collect();
        let mut clashes: Vec<(Span, Span, Vec<Date>)> = Vec::new();
        for (d, span) in &workdays {
            let Some(&holiday) = off.get(d) else { continue };
            match clashes
                .iter_mut()
                .find(|(w, h, _)| w == span && *h == holiday)
            {
                Some((_, _, days)) => days.push(*d),
                None => clashes.push((*span, holiday, vec![*d])),
            }
        }
        for (span, holiday, days) in clashes {
            let what = match days.as_slice() {
                [d] => format!("{d} is both a holiday and a workday"),
                [first, .., last] => format!(
                    "{} days, {first} to {last}, are both holidays and workdays",
                    days.len()
                ),
                [] => continue,
            };
            ctx.push(
                Diagnostic::error("E0805", span, what)
                    .with_label(holiday, "the holiday")
                    .with_help("a make-up working day is a day off the holidays; take it out of one of them"),
            );
        }
        if let Some((_, span)) = workdays.first()
            && week[0].is_empty()
        {
            ctx.push(
                Diagnostic::warning(
                    "W0806",
                    *span,
                    "a `workday` works Monday's hours, and this calendar has none on Monday: the day stays off",
                )
                .with_help("give Monday working hours with a `week` line"),
            );
        }
        let holidays: Vec<Date> = holidays.into_iter().map(|(d, _)| d).collect();
        let workdays: Vec<Date> = workdays.into_iter().map(|(d, _)| d).collect();
        if week.iter().all(Vec::is_empty) {
            ctx.push(
                Diagnostic::error(
                    "E0803",
                    c.name.span,
                    format!("calendar `{}` has no working time", c.name.name),
                )
                .with_help("add a line such as `week mon..fri 09:00-12:00, 13:30-18:00`"),
            );
        }
        if chosen.is_some_and(|n| n.name == c.name.name) && result.is_none() {
            result = Some(Calendar::new(tz.clone(), week, holidays, workdays));
        }
    }
    match chosen {
        Some(n) if result.is_none() => {
            ctx.push(
                Diagnostic::error("E0102", n.span, format!("unknown calendar `{}`", n.name))
                    .with_help("declare it with `calendar NAME { week mon..fri 09:00-18:00 }`"),
            );
            None
        }
        Some(_) => result,
        None => Some(Calendar::always(tz)),
    }
}

/// Warns about working intervals of one day that overlap (`09:00-12:00,
/// 11:00-18:00`): the calendar works them as one interval, which is
/// seldom what the writer meant (a typo in an hour, or a day listed in two
/// `week` lines). One warning per pair, naming the days it applies to.
fn overlaps(ctx: &mut Ctx<'_>, written: &mut [Vec<(DayInterval, Span)>; 7]) {
    type Pair = ((DayInterval, Span), (DayInterval, Span));
    // Per pair and the stretch it merges into: the days.
    let mut found: Vec<(Pair, Vec<usize>, (u32, u32))> = Vec::new();
    for (d, day) in written.iter_mut().enumerate() {
        day.sort_by_key(|(i, _)| (i.start, i.end));
        // Each interval's merged stretch: the run of overlapping intervals it is in.
        let mut runs: Vec<(u32, u32)> = Vec::with_capacity(day.len());
        for (i, _) in day.iter() {
            match runs.last().copied() {
                // It overlaps the run so far: the run grows, and every
                // interval in it (the last ones, sharing its start) with it.
                Some((start, end)) if i.start < end => {
                    let merged = (start, end.max(i.end));
                    for r in runs.iter_mut().rev().take_while(|r| r.0 == start) {
                        *r = merged;
                    }
                    runs.push(merged);
                }
                _ => runs.push((i.start, i.end)),
            }
        }
        // Each interval against the one reaching furthest before it.
        let mut furthest: Option<(DayInterval, Span)> = None;
        for (k, &b) in day.iter().enumerate() {
            if let Some(a) = furthest
                && b.0.start < a.0.end
            {
                match found
                    .iter_mut()
                    .find(|(p, _, stretch)| *p == (a, b) && *stretch == runs[k])
                {
                    Some((_, days, _)) => days.push(d),
                    None => found.push(((a, b), vec![d], runs[k])),
                }
            }
            if furthest.is_none_or(|a| b.0.end > a.0.end) {
                furthest = Some(b);
            }
        }
    }
    for (((a, a_span), (b, b_span)), days, (start, end)) in found {
        let days: Vec<&str> = days
            .iter()
            .filter_map(|&d| super::cond::WEEKDAYS.get(d).copied())
            .collect();
        let mut diag = Diagnostic::warning(
            "W0807",
            b_span,
            format!(
                "working intervals {} and {} overlap on {}: the calendar works {}-{} there as one stretch",
                hhmm_range(a),
                hhmm_range(b),
                days.join(", "),
                hhmm(start),
                hhmm(end)
            ),
        )
        .with_help("check the hours; write each stretch of working time once");
        if a_span != b_span {
            diag = diag.with_label(a_span, "the other interval is here");
        }
        ctx.push(diag);
    }
}

fn hhmm(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

fn hhmm_range(i: DayInterval) -> String {
    format!("{}-{}", hhmm(i.start), hhmm(i.end))
}

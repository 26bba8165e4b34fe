//! The calendar and the area tree in a semantic diff.
//!
//! A compiled calendar keeps holidays as day numbers without their labels,
//! so the days and hours are compared on the source: the calendar the
//! policy header names, its weekday hours, its holidays and make-up working
//! days with their labels.

use std::collections::BTreeMap;

use jiff::civil::Date;
use whistle_grammar::ast::{self, CalendarItem, Decl, PolicyItem};
use whistle_grammar::bundle::Bundle;

use super::semantic::{ChangeKind, Out, by_name};
use crate::model::Policy;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A calendar as the source states it.
#[derive(Debug, Default, PartialEq)]
struct Spec {
    /// The name the header gives.
    name: String,
    /// Monday..Sunday: working intervals in minutes since midnight, merged.
    week: [Vec<(u16, u16)>; 7],
    /// Holidays and their labels.
    holidays: BTreeMap<Date, String>,
    /// Make-up working days and their labels.
    workdays: BTreeMap<Date, String>,
}

fn date(d: ast::Date) -> Option<Date> {
    Date::new(d.year, d.month, d.day).ok()
}

/// The dates of `from[..to]` (at most a year's worth, like the compiler).
fn dates(from: ast::Date, to: Option<ast::Date>) -> Vec<Date> {
    let (Some(a), Some(b)) = (date(from), date(to.unwrap_or(from))) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut d = a;
    while d <= b && out.len() < 400 {
        out.push(d);
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}

fn merge(mut v: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    v.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The calendar the bundle's header names, if any.
fn spec(b: &Bundle) -> Option<Spec> {
    let decls = || b.files.iter().flat_map(|(_, f)| &f.decls);
    let name = decls().find_map(|d| match d {
        Decl::Policy(h) => h.items.iter().find_map(|i| match i {
            PolicyItem::Calendar(c, _) => Some(c.name.clone()),
            _ => None,
        }),
        _ => None,
    })?;
    let cal = decls().find_map(|d| match d {
        Decl::Calendar(c) if c.name.name == name => Some(c),
        _ => None,
    })?;
    let mut s = Spec {
        name,
        ..Spec::default()
    };
    let day = |i: &ast::Ident| DAYS.iter().position(|d| *d == i.name);
    for item in &cal.items {
        match item {
            CalendarItem::Week {
                days, intervals, ..
            } => {
                for ds in days {
                    let from = day(&ds.from);
                    let to = ds.to.as_ref().map_or(from, day);
                    let (Some(a), Some(z)) = (from, to) else {
                        continue;
                    };
                    for d in a..=z {
                        for (f, t) in intervals {
                            if t.minutes > f.minutes {
                                s.week[d].push((f.minutes, t.minutes));
                            }
                        }
                    }
                }
            }
            CalendarItem::Holiday(from, to, label, _) => {
                for d in dates(*from, *to) {
                    let l = label.as_ref().map(|l| l.value.clone()).unwrap_or_default();
                    s.holidays.insert(d, l);
                }
            }
            CalendarItem::Workday(from, to, label, _) => {
                for d in dates(*from, *to) {
                    let l = label.as_ref().map(|l| l.value.clone()).unwrap_or_default();
                    s.workdays.insert(d, l);
                }
            }
        }
    }
    s.week = s.week.map(merge);
    Some(s)
}

fn hours(v: &[(u16, u16)]) -> String {
    if v.is_empty() {
        return "no working time".into();
    }
    v.iter()
        .map(|(a, b)| format!("{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares the calendars the two bundles' headers name.
pub(super) fn compare(o: &mut Out, old: &Bundle, new: &Bundle) {
    let (a, b) = (spec(old), spec(new));
    let name = |s: &Option<Spec>| {
        Some(s.as_ref().map_or_else(
            || "none (every hour is working time)".to_string(),
            |s| s.name.clone(),
        ))
    };
    o.value("calendar", "in force", name(&a), name(&b));
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    // Weekdays with the same change are told together (`mon..fri`).
    let mut d = 0;
    while d < 7 {
        let (x, y) = (&a.week[d], &b.week[d]);
        let mut e = d;
        while e + 1 < 7 && a.week[e + 1] == *x && b.week[e + 1] == *y {
            e += 1;
        }
        if x != y {
            let days = if e > d {
                format!("{}..{}", DAYS[d], DAYS[e])
            } else {
                DAYS[d].to_string()
            };
            o.value(
                "calendar",
                &format!("hours {days}"),
                Some(hours(x)),
                Some(hours(y)),
            );
        }
        d = e + 1;
    }
    days(o, "holiday", &a.holidays, &b.holidays);
    days(o, "make-up working day", &a.workdays, &b.workdays);
}

/// Dates added, removed or relabelled; consecutive dates with the same
/// change and label are told as one range.
fn days(o: &mut Out, aspect: &str, a: &BTreeMap<Date, String>, b: &BTreeMap<Date, String>) {
    let pairs = by_name(
        a.iter().map(|(d, l)| (d.to_string(), (*d, l.clone()))),
        b.iter().map(|(d, l)| (d.to_string(), (*d, l.clone()))),
    );
    // (kind, first, last, old label, new label)
    type Run = (ChangeKind, Date, Date, Option<String>, Option<String>);
    let mut runs: Vec<Run> = Vec::new();
    for (_, pair) in pairs {
        let (kind, d, x, y) = match pair {
            (Some((d, x)), Some((_, y))) if x != y => (ChangeKind::Changed, d, Some(x), Some(y)),
            (None, Some((d, y))) => (ChangeKind::Added, d, None, Some(y)),
            (Some((d, x)), None) => (ChangeKind::Removed, d, Some(x), None),
            _ => continue,
        };
        match runs.last_mut() {
            Some(r) if r.0 == kind && r.3 == x && r.4 == y && r.2.tomorrow().ok() == Some(d) => {
                r.2 = d;
            }
            _ => runs.push((kind, d, d, x, y)),
        }
    }
    let told = |first: Date, last: Date, label: &str| {
        let range = if first == last {
            first.to_string()
        } else {
            format!("{first}..{last}")
        };
        if label.is_empty() {
            range
        } else {
            format!("{range} {label}")
        }
    };
    for (kind, first, last, x, y) in runs {
        let (x, y) = (
            x.map(|l| told(first, last, &l)),
            y.map(|l| told(first, last, &l)),
        );
        o.push("calendar", aspect, kind, x, y);
    }
}

/// Without the sources, a calendar can only be compared as a whole.
pub(super) fn compare_compiled(o: &mut Out, old: &Policy, new: &Policy) {
    // `Calendar` has no equality; its `Debug` form prints every field (time
    // zone, weekday intervals, holiday and make-up day numbers), so equal
    // forms mean equal calendars.
    if format!("{:?}", old.calendar) != format!("{:?}", new.calendar) {
        o.push(
            "calendar",
            "working time",
            ChangeKind::Changed,
            None,
            Some("changed (compare the bundles to name the days and hours)".into()),
        );
    }
}

/// Grids added, removed, or moved to another community, street or district.
pub(super) fn areas(o: &mut Out, old: &Policy, new: &Policy) {
    let list = |p: &Policy| {
        p.areas
            .grids
            .iter()
            .map(|(g, units)| {
                let up: Vec<&str> = units.iter().skip(1).flatten().map(|u| &**u).collect();
                (g.to_string(), up.join(" / "))
            })
            .collect::<Vec<_>>()
    };
    for (grid, pair) in by_name(list(old), list(new)) {
        match pair {
            (Some(a), Some(b)) => o.value(&grid, "in", Some(a), Some(b)),
            (None, Some(b)) => o.push(&grid, "", ChangeKind::Added, None, Some(b)),
            (Some(a), None) => o.push(&grid, "", ChangeKind::Removed, Some(a), None),
            (None, None) => {}
        }
    }
}

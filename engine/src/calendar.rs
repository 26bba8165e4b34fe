//! Working-time calendars (LANGUAGE.md section 4).
//!
//! A `working` duration advances only through the calendar's working
//! intervals in the policy's time zone; any other duration is plain elapsed
//! time. The project's reading of the spec:
//!
//! - A *working day* is a date that is a weekday with intervals in `week` and
//!   not a holiday, or a `workday` date. A `workday` date works Monday's
//!   intervals (or, if Monday has none, those of the first weekday that has
//!   some). A date that is both a holiday and a workday is a working day.
//! - Intervals are half-open `[start, end)` in local wall-clock time. An
//!   instant exactly at an interval end is not working time; the next working
//!   instant after it is the start of the next interval. Wall-clock times are
//!   turned into instants with the *compatible* disambiguation (a time in a
//!   DST gap moves forward, a repeated time takes its first occurrence).
//! - `Nd` working: move the start to the next working instant `S`; take `S`'s
//!   local date `D` and time of day `T`; find the N-th working day after `D`
//!   (`D` itself does not count); the result is `T` on that day, or the next
//!   working instant after it. Hours, minutes and seconds then advance through
//!   working intervals. Running out exactly at an interval end returns that
//!   end (17:00 + 1h with 13:30-18:00 is 18:00 the same day); advancing 0 from
//!   non-working time gives the next working instant.
//! - Sub-second parts of a start are kept while the clock is running.
//! - Searches give up (`None`) after ten years (3660 days) in a row without
//!   working time, or at the end of the supported date range (year 9999).
//! - [`Calendar::always`] stands in for "no calendar": every duration on it is
//!   plain elapsed time, a day being 86 400 seconds.
//!
//! Speed: `decide` calls this per event, so all walking is done interval by
//! interval on integer seconds, and UTC offsets come from a table built once
//! per calendar instead of from the time-zone database on every conversion.

use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// How many consecutive days without working time a search crosses before
/// giving up (ten years).
const HORIZON_DAYS: u32 = 3660;

const DAY: i64 = 86_400;
const NANOS: i32 = 1_000_000_000;
/// More than any difference between two UTC offsets (jiff bounds them to
/// ±25:59:59): a wall-clock time whose naive conversion lands this far inside
/// a constant-offset window cannot fall in a gap or a fold.
const MARGIN: i64 = 2 * 93_600;
/// The offset table covers 1970-01-01..2200-01-01 UTC; outside it, every
/// conversion asks the time zone (correct, only slower).
const TABLE_TO: i64 = 7_258_118_400;
/// The table is indexed by spans of 2^25 s (about 388 days), so finding an
/// offset is one index and a step or two instead of a binary search.
const BUCKET_BITS: u32 = 25;
/// 9999-12-31, in days since 1970-01-01: walks stop there.
const MAX_DAY: i64 = 2_932_896;
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// A half-open wall-clock interval of a day, in seconds since local midnight: [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DayInterval {
    /// Start, seconds since local midnight.
    pub start: u32,
    /// End (exclusive), seconds since local midnight; at most 86 400.
    pub end: u32,
}

/// A working-time calendar in one time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    /// Monday..Sunday, then (index 7) the intervals of a make-up working day.
    days: [Vec<DayInterval>; 8],
    /// Sorted, deduplicated local days since 1970-01-01.
    holidays: Vec<i64>,
    workdays: Vec<i64>,
    /// The smallest and largest holiday or workday (lets ordinary days skip the searches).
    special: (i64, i64),
    /// What each day of `special` is ([`HOLIDAY`], [`WORKDAY`] or 0), so
    /// that a walk through a year of holidays reads a byte per day instead
    /// of searching two lists; empty when the span is too long to be worth
    /// a table (then the lists are searched).
    marks: Box<[u8]>,
    /// The working seconds of each of `days`, for walks that take whole
    /// days at once.
    totals: [u64; 8],
    /// Whether any day can have working time at all.
    has_time: bool,
    always: bool,
    offsets: Arc<Offsets>,
}

/// A time zone's UTC offsets over `[windows[0].0, to)`.
#[derive(Debug)]
struct Offsets {
    /// `(from, offset)` in seconds: `offset` applies from `from` until the next window.
    windows: Vec<(i64, i64)>,
    to: i64,
    /// For each bucket, the window its first second falls in.
    buckets: Vec<u32>,
}

impl Calendar {
    /// `week[0]` is Monday ... `week[6]` Sunday. Each day's intervals are
    /// normalised: clamped to the day, empty ones dropped, sorted, and
    /// overlapping or touching ones merged.
    pub fn new(
        tz: TimeZone,
        week: [Vec<DayInterval>; 7],
        holidays: impl IntoIterator<Item = Date>,
        workdays: impl IntoIterator<Item = Date>,
    ) -> Calendar {
        let week = week.map(normalise);
        // A `workday` works Monday's hours (LANGUAGE.md section 4).
        let makeup = week[0].clone();
        let [mo, tu, we, th, fr, sa, su] = week;
        let days = [mo, tu, we, th, fr, sa, su, makeup];
        let (holidays, workdays) = (day_numbers(holidays), day_numbers(workdays));
        let special = (holidays.iter().chain(&workdays))
            .fold((i64::MAX, i64::MIN), |(lo, hi), &d| (lo.min(d), hi.max(d)));
        let marks = marks(special, &holidays, &workdays);
        let totals = days
            .each_ref()
            .map(|d| d.iter().map(|i| u64::from(i.end - i.start)).sum());
        let offsets = Arc::new(Offsets::of(&tz));
        Calendar {
            tz,
            has_time: days.iter().any(|d| !d.is_empty()),
            days,
            holidays,
            workdays,
            special,
            marks,
            totals,
            always: false,
            offsets,
        }
    }

    /// A calendar where every instant is working time (used when a policy has no calendar).
    pub fn always(tz: TimeZone) -> Calendar {
        let full = vec![DayInterval {
            start: 0,
            end: 86_400,
        }];
        Calendar {
            always: true,
            ..Calendar::new(tz, std::array::from_fn(|_| full.clone()), [], [])
        }
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Is `date` a working day?
    pub fn is_working_day(&self, date: Date) -> bool {
        !self.intervals(days_from_civil(date)).is_empty()
    }

    /// The first instant >= t that is working time; None if none within the search horizon.
    pub fn next_working_instant(&self, t: Timestamp) -> Option<Timestamp> {
        if self.always {
            return Some(t);
        }
        let (s, _) = split(t);
        let first = self.walk(&mut Zone::new(self), s, first_start)?;
        if first == s { Some(t) } else { join(first, 0) }
    }

    /// The first stretch of working time that ends after `t`, from `t`'s
    /// whole second on: `[start, end)` with `start` at or after that second
    /// (the second itself when it is working time) and `end` where the
    /// working interval ends. `None` if none within the search horizon.
    ///
    /// From `t` until `end`, working time is exactly `[start, end)`: for
    /// any whole second `u` in `[t, end)`, [`Calendar::next_working_instant`]
    /// is `max(u, start)` and [`Calendar::advance_working_seconds`] by `n`
    /// is `max(u, start) + n` while that is at most `end`. A caller that
    /// moves many clocks through one working day (the simulator's duty
    /// desks and handlers) keeps the stretch and skips the calendar.
    pub fn next_stretch(&self, t: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let (s, _) = split(t);
        if self.always {
            return Some((join(s, 0)?, Timestamp::MAX));
        }
        let (a, b) = self.walk(&mut Zone::new(self), s, |seen| match seen {
            Seen::Stretch(a, b) => Break((a, b)),
            Seen::Day { .. } => Continue(false),
        })?;
        Some((join(a, 0)?, join(b, 0)?))
    }

    /// Adds `days` working days and then `seconds` of working time to `start`, per the rules above.
    pub fn add_working(&self, start: Timestamp, days: u32, seconds: u64) -> Option<Timestamp> {
        if self.always {
            return plus(
                start,
                u64::from(days).checked_mul(86_400)?.checked_add(seconds)?,
            );
        }
        let mut zone = Zone::new(self);
        let (mut s, mut frac) = split(start);
        if days > 0 {
            let first = self.walk(&mut zone, s, first_start)?;
            if first != s {
                frac = 0;
            }
            let local = zone.local(first);
            let day = self.nth_working_day_after(local.div_euclid(DAY), days)?;
            s = zone.instant(day * DAY + local.rem_euclid(DAY))?;
        }
        let (r, frac) = self.advance(&mut zone, (s, frac), seconds, true)?;
        join(r, frac)
    }

    /// Working seconds in [a, b) (0 if b <= a), rounded down to whole seconds.
    pub fn working_seconds_between(&self, a: Timestamp, b: Timestamp) -> u64 {
        self.between(a, b, true)
    }

    /// [`Calendar::working_seconds_between`], taking whole days at once or
    /// (to check that doing so changes nothing) interval by interval.
    fn between(&self, a: Timestamp, b: Timestamp, whole_days: bool) -> u64 {
        if b <= a {
            return 0;
        }
        if self.always {
            return u64::try_from(b.duration_since(a).as_secs()).unwrap_or(0);
        }
        let ((sa, fa), (sb, fb)) = (split(a), split(b));
        let (mut total, mut a_works, mut b_works) = (0u64, false, false);
        let _ = self.walk(&mut Zone::new(self), sa, |seen| {
            let (x, y) = match seen {
                // A whole day before `b`: a day's worth.
                Seen::Day { end, total: worked } => {
                    let take = whole_days && end <= sb;
                    if take {
                        total += worked;
                    }
                    return Continue(take);
                }
                Seen::Stretch(x, y) => (x, y),
            };
            if x > sb {
                return Break(());
            }
            a_works |= x == sa;
            if sb < y {
                b_works = true;
                total += x.abs_diff(sb);
                return Break(());
            }
            total += x.abs_diff(y);
            Continue(false)
        });
        // The whole seconds `sa` and `sb` are working time or not as a whole
        // (interval ends are whole seconds), so the fractions only shift the
        // total by less than one second either way.
        let (fa, fb) = (if a_works { fa } else { 0 }, if b_works { fb } else { 0 });
        total.saturating_sub(u64::from(fb < fa))
    }

    /// Advances `seconds` of working time from `start` (no day rule): used for ladder steps at P% of a working limit.
    pub fn advance_working_seconds(&self, start: Timestamp, seconds: u64) -> Option<Timestamp> {
        if self.always {
            return plus(start, seconds);
        }
        let (s, frac) = split(start);
        let (r, frac) = self.advance(&mut Zone::new(self), (s, frac), seconds, true)?;
        join(r, frac)
    }

    /// Which of `days` a local day (days since 1970-01-01) works, `None`
    /// for a holiday.
    fn slot(&self, day: i64) -> Option<usize> {
        if day < self.special.0 || day > self.special.1 {
            return Some(weekday(day));
        }
        let mark = usize::try_from(day - self.special.0)
            .ok()
            .and_then(|i| self.marks.get(i).copied())
            .unwrap_or_else(|| mark_of(day, &self.holidays, &self.workdays));
        match mark {
            WORKDAY => Some(7),
            HOLIDAY => None,
            _ => Some(weekday(day)),
        }
    }

    /// The intervals of a local day (days since 1970-01-01).
    fn intervals(&self, day: i64) -> &[DayInterval] {
        self.slot(day)
            .and_then(|k| self.days.get(k))
            .map_or(&[], Vec::as_slice)
    }

    fn nth_working_day_after(&self, mut day: i64, mut n: u32) -> Option<i64> {
        let per_week = self.days.iter().take(7).filter(|d| !d.is_empty()).count() as u32;
        let mut idle = 0;
        while n > 0 {
            // Past the last holiday and workday every week is alike, so whole
            // weeks can be skipped (keeping at least one day to count).
            if day > self.special.1 && per_week > 0 && n > per_week {
                let weeks = (n - 1) / per_week;
                day += 7 * i64::from(weeks);
                n -= weeks * per_week;
            }
            day += 1;
            if day > MAX_DAY {
                return None;
            }
            if self.intervals(day).is_empty() {
                idle += 1;
                if idle > HORIZON_DAYS {
                    return None;
                }
            } else {
                idle = 0;
                n -= 1;
            }
        }
        Some(day)
    }

    /// Advances `amount` working seconds from `s + frac ns`.
    /// Whole days are taken at once unless `whole_days` is false (which
    /// gives the same result, interval by interval).
    fn advance(
        &self,
        zone: &mut Zone<'_>,
        (s, frac): (i64, i32),
        amount: u64,
        whole_days: bool,
    ) -> Option<(i64, i32)> {
        // Spare a walk to the year 9999 for amounts that cannot fit before it.
        if amount / 86_400 > MAX_DAY.abs_diff(s.div_euclid(DAY)) {
            return None;
        }
        let (mut left, mut frac, mut strict, mut first) = (amount, frac, false, true);
        self.walk(zone, s, |seen| {
            let (a, b) = match seen {
                // A whole day the clock runs through, once it runs.
                Seen::Day { total, .. } => {
                    let take = whole_days && !first && left > total;
                    if take {
                        left -= total;
                    }
                    return Continue(take);
                }
                Seen::Stretch(a, b) => (a, b),
            };
            if first {
                first = false;
                // Started off working time, the clock starts at a whole second.
                if a > s {
                    frac = 0;
                }
                // The result lies `frac` into a second; if the whole seconds
                // run out exactly at an interval end, that second is past the
                // end, so the clock carries on into the next interval.
                strict = frac > 0;
            }
            let room = a.abs_diff(b);
            if left < room || (!strict && left == room) {
                return Break((a.saturating_add_unsigned(left), frac));
            }
            left -= room;
            Continue(false)
        })
    }

    /// Visits the working stretches `[a, b)` (UTC seconds) that end after
    /// `from`, in order, each clipped to start no earlier than `from` and than
    /// the end of the one before (which keeps DST oddities from overlapping).
    ///
    /// A day after `from`'s whose working time lies in one stretch of
    /// constant UTC offset is first offered whole ([`Seen::Day`]): a visitor
    /// that takes it (`Continue(true)`) is not shown its stretches. A long
    /// clock then costs a step per day, not two conversions per interval.
    /// Any other answer to a day, and every answer to a stretch, means go on.
    fn walk<R>(
        &self,
        zone: &mut Zone<'_>,
        from: i64,
        mut visit: impl FnMut(Seen) -> ControlFlow<R, bool>,
    ) -> Option<R> {
        if !self.has_time {
            return None;
        }
        let mut floor = from;
        let first = zone.local(from).div_euclid(DAY);
        let mut day = first;
        let mut idle = 0;
        while idle <= HORIZON_DAYS && day <= MAX_DAY {
            idle += 1;
            let Some(slot) = self.slot(day) else {
                day += 1;
                continue;
            };
            let intervals = self.days.get(slot).map_or(&[][..], Vec::as_slice);
            if let (true, Some(last)) = (day > first, intervals.last())
                && let Some(off) = zone.fixed(day * DAY, (day + 1) * DAY)
            {
                // In one offset, the day's stretches are its intervals
                // shifted, in order, and start after `floor` (the day
                // before ended by this day's midnight).
                let end = day * DAY + i64::from(last.end) - off;
                let total = self.totals.get(slot).copied().unwrap_or(0);
                match visit(Seen::Day { end, total }) {
                    Break(r) => return Some(r),
                    Continue(true) => {
                        idle = 0;
                        floor = end;
                        day += 1;
                        continue;
                    }
                    Continue(false) => {}
                }
            }
            for iv in intervals {
                let end = zone.instant(day * DAY + i64::from(iv.end))?;
                if end <= floor {
                    continue;
                }
                let start = zone.instant(day * DAY + i64::from(iv.start))?.max(floor);
                if start >= end {
                    continue;
                }
                idle = 0;
                floor = end;
                if let Break(r) = visit(Seen::Stretch(start, end)) {
                    return Some(r);
                }
            }
            day += 1;
        }
        None
    }
}

/// What [`Calendar::walk`] shows its visitor.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// Working time `[a, b)`, UTC seconds.
    Stretch(i64, i64),
    /// A whole day of working time, `total` seconds of it, ending at UTC
    /// second `end`.
    Day { end: i64, total: u64 },
}

/// Converts between UTC seconds and local seconds, remembering the offset
/// window of the last lookup so that a walk rarely searches twice.
struct Zone<'c> {
    cal: &'c Calendar,
    /// The offset `off` applies to UTC seconds in `[lo, hi)`.
    lo: i64,
    hi: i64,
    off: i64,
}

impl<'c> Zone<'c> {
    fn new(cal: &'c Calendar) -> Self {
        // An empty window: the first conversion looks the offset up.
        let (lo, hi, off) = (0, 0, 0);
        Zone { cal, lo, hi, off }
    }

    fn seek(&mut self, t: i64) {
        let Offsets {
            windows,
            to,
            buckets,
        } = &*self.cal.offsets;
        if windows.first().is_some_and(|w| w.0 <= t) && t < *to {
            let bucket = usize::try_from(t >> BUCKET_BITS)
                .ok()
                .and_then(|k| buckets.get(k));
            let mut i = bucket.map_or(0, |&i| i as usize);
            while windows.get(i + 1).is_some_and(|w| w.0 <= t) {
                i += 1;
            }
            if let Some(&(lo, off)) = windows.get(i) {
                (self.lo, self.off) = (lo, off);
                self.hi = windows.get(i + 1).map_or(*to, |w| w.0);
                return;
            }
        }
        // Outside the table: a one-second window, so the next conversion asks the zone again.
        let offset = Timestamp::from_second(t).map(|ts| self.cal.tz.to_offset(ts));
        self.off = offset.map_or(0, |off| i64::from(off.seconds()));
        (self.lo, self.hi) = (t, t.saturating_add(1));
    }

    /// Local seconds (since 1970-01-01T00:00 wall clock) of UTC second `t`.
    fn local(&mut self, t: i64) -> i64 {
        if t < self.lo || t >= self.hi {
            self.seek(t);
        }
        t + self.off
    }

    /// The UTC offset, if every local second in `[from, to)` converts with
    /// it (none falls in a gap or a fold) by what the zone knows now.
    fn fixed(&self, from: i64, to: i64) -> Option<i64> {
        let (a, b) = (from - self.off, to - self.off);
        (a >= self.lo.saturating_add(MARGIN) && b < self.hi.saturating_sub(MARGIN))
            .then_some(self.off)
    }

    /// The UTC second of a local wall-clock second (compatible disambiguation).
    fn instant(&mut self, local: i64) -> Option<i64> {
        let naive = local - self.off;
        if naive >= self.lo.saturating_add(MARGIN) && naive < self.hi.saturating_sub(MARGIN) {
            return Some(naive);
        }
        let dt = EPOCH.checked_add(SignedDuration::from_secs(local)).ok()?;
        let t = self.cal.tz.to_ambiguous_timestamp(dt).compatible().ok()?;
        let t = t.as_second();
        if t < self.lo || t >= self.hi {
            self.seek(t);
        }
        Some(t)
    }
}

impl Offsets {
    fn of(tz: &TimeZone) -> Offsets {
        let secs = |off: Offset| i64::from(off.seconds());
        if let Ok(off) = tz.to_fixed_offset() {
            return Offsets::new(vec![(i64::MIN, secs(off))], i64::MAX);
        }
        let epoch = Timestamp::UNIX_EPOCH;
        let mut windows = vec![(0, secs(tz.to_offset(epoch)))];
        for tr in tz.following(epoch) {
            let at = tr.timestamp().as_second();
            if at >= TABLE_TO {
                break;
            }
            windows.push((at, secs(tr.offset())));
        }
        Offsets::new(windows, TABLE_TO)
    }

    fn new(windows: Vec<(i64, i64)>, to: i64) -> Offsets {
        let window_at = |t: i64| windows.partition_point(|w| w.0 <= t).saturating_sub(1);
        let buckets = (0..=TABLE_TO >> BUCKET_BITS).map(|k| window_at(k << BUCKET_BITS) as u32);
        let buckets = buckets.collect();
        Offsets {
            windows,
            to,
            buckets,
        }
    }
}

/// A [`Calendar::walk`] visitor that stops at the first working instant.
fn first_start(seen: Seen) -> ControlFlow<i64, bool> {
    match seen {
        Seen::Stretch(a, _) => Break(a),
        Seen::Day { .. } => Continue(false),
    }
}

/// A day's mark: a holiday (not worked unless also a workday).
const HOLIDAY: u8 = 1;
/// A day's mark: a make-up working day.
const WORKDAY: u8 = 2;
/// The longest span of special days kept as a table of marks (a byte a
/// day); a calendar whose holidays spread wider searches its lists.
const MARKS_MAX: i64 = 1 << 16;

/// The mark of `day` from the sorted lists (a workday wins).
fn mark_of(day: i64, holidays: &[i64], workdays: &[i64]) -> u8 {
    if workdays.binary_search(&day).is_ok() {
        WORKDAY
    } else if holidays.binary_search(&day).is_ok() {
        HOLIDAY
    } else {
        0
    }
}

/// The marks of every day in `special` (inclusive), or none if it is
/// empty or longer than [`MARKS_MAX`].
fn marks((lo, hi): (i64, i64), holidays: &[i64], workdays: &[i64]) -> Box<[u8]> {
    if hi < lo || hi - lo >= MARKS_MAX {
        return Box::default();
    }
    (lo..=hi).map(|d| mark_of(d, holidays, workdays)).collect()
}

fn normalise(v: Vec<DayInterval>) -> Vec<DayInterval> {
    let mut v: Vec<DayInterval> = v
        .into_iter()
        .map(|i| DayInterval {
            start: i.start.min(86_400),
            end: i.end.min(86_400),
        })
        .filter(|i| i.end > i.start)
        .collect();
    v.sort_by_key(|i| i.start);
    let mut out: Vec<DayInterval> = Vec::with_capacity(v.len());
    for i in v {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

fn day_numbers(dates: impl IntoIterator<Item = Date>) -> Vec<i64> {
    let mut v: Vec<i64> = dates.into_iter().map(days_from_civil).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Monday = 0 (1970-01-01 was a Thursday).
fn weekday(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

/// Whole seconds and a non-negative nanosecond part.
fn split(t: Timestamp) -> (i64, i32) {
    let (s, n) = (t.as_second(), t.subsec_nanosecond());
    if n < 0 { (s - 1, n + NANOS) } else { (s, n) }
}

fn join(s: i64, frac: i32) -> Option<Timestamp> {
    Timestamp::new(s, frac).ok()
}

fn plus(t: Timestamp, seconds: u64) -> Option<Timestamp> {
    t.checked_add(SignedDuration::from_secs(i64::try_from(seconds).ok()?))
        .ok()
}

/// Days since 1970-01-01.
fn days_from_civil(date: Date) -> i64 {
    date.duration_since(EPOCH.date()).as_secs().div_euclid(DAY)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const H: u64 = 3600;
    const ZONES: [&str; 4] = [
        "Asia/Shanghai",
        "Europe/Berlin",
        "America/New_York",
        "Pacific/Apia",
    ];

    /// `HHMM` to `HHMM`.
    fn iv(from: u32, to: u32) -> DayInterval {
        let sec = |hhmm: u32| hhmm / 100 * 3600 + hhmm % 100 * 60;
        let (start, end) = (sec(from), sec(to));
        DayInterval { start, end }
    }

    fn date(y: i16, m: i8, d: i8) -> Date {
        Date::new(y, m, d).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// `MM-DD hh:mm[:ss]` in 2025, Shanghai time.
    fn sh(s: &str) -> Timestamp {
        ts(&format!("2025-{}+08:00", s.replace(' ', "T")))
    }

    /// The spec's `workdays` calendar, in `zone`.
    fn workdays_in(zone: &str) -> Calendar {
        let day = vec![iv(900, 1200), iv(1330, 1800)];
        let week = std::array::from_fn(|d| if d < 5 { day.clone() } else { vec![] });
        let holidays = (1..=8).map(|d| date(2025, 10, d));
        let tz = TimeZone::get(zone).unwrap();
        Calendar::new(tz, week, holidays, [date(2025, 9, 28)])
    }

    /// `(start, days, seconds, expected)`.
    fn check(c: &Calendar, at: fn(&str) -> Timestamp, cases: &[(&str, u32, u64, &str)]) {
        for &(start, days, secs, want) in cases {
            let got = c.add_working(at(start), days, secs);
            assert_eq!(got, Some(at(want)), "{start} + {days}d {secs}s");
            if days == 0 {
                assert_eq!(c.advance_working_seconds(at(start), secs), got);
            }
        }
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        *seed >> 33
    }

    #[test]
    fn spec_examples_holidays_and_make_up_days() {
        let c = workdays_in("Asia/Shanghai");
        let cases = [
            ("06-06 17:00", 0, 2 * H, "06-09 10:00"), // the spec: respond 2h working
            ("06-06 17:00", 3, 0, "06-11 17:00"),     // the spec: resolve 3d working
            ("06-06 17:00", 3, H, "06-11 18:00"),     // days first, then hours
            ("06-07 10:00", 1, 0, "06-10 09:00"),     // Saturday: the clock starts Monday
            ("06-09 12:30", 1, 0, "06-10 13:30"),     // lunch: the clock starts 13:30
            ("09-30 17:00", 0, 2 * H, "10-09 10:00"), // National Day is skipped
            ("09-30 17:00", 3, 0, "10-13 17:00"),     // Thu 10-09, Fri 10-10, Mon 10-13
            ("09-27 10:00", 0, H, "09-28 10:00"),     // Sunday 09-28 is worked
            ("09-26 10:00", 1, 0, "09-28 10:00"),
            ("09-26 10:00", 30, 0, "11-14 10:00"),
        ];
        check(&c, sh, &cases);
        assert!(c.is_working_day(date(2025, 9, 28)) && c.is_working_day(date(2025, 10, 9)));
        assert!(!c.is_working_day(date(2025, 9, 27)) && !c.is_working_day(date(2025, 10, 3)));
        // A make-up day works Monday's intervals (LANGUAGE.md section 4).
        let mut week: [Vec<DayInterval>; 7] = Default::default();
        week[0] = vec![iv(1000, 1100)];
        week[2] = vec![iv(1200, 1300)];
        let [jan1, jan4] = [date(2025, 1, 1), date(2025, 1, 4)];
        let c = Calendar::new(TimeZone::UTC, week.clone(), [jan1], [jan1, jan4]);
        // `check` refuses a day both off and on (E0805); the engine still
        // answers one way.
        assert!(c.is_working_day(jan1), "workday wins over holiday");
        check(&c, ts, &[("2025-01-02T12:00Z", 0, 0, "2025-01-04T10:00Z")]);
        // Without Monday hours a make-up day has none: it stays off.
        week[0].clear();
        let c = Calendar::new(TimeZone::UTC, week, [], [jan4]);
        check(&c, ts, &[("2025-01-02T12:00Z", 0, 0, "2025-01-08T12:00Z")]);
    }

    #[test]
    fn lunch_breaks_interval_ends_and_fractions() {
        let c = workdays_in("Asia/Shanghai");
        let cases = [
            ("06-03 12:30", 0, 0, "06-03 13:30"),
            ("06-03 12:30", 0, 1800, "06-03 14:00"),
            ("06-03 12:00", 0, 0, "06-03 13:30"), // an end is not working time
            ("06-03 12:00", 0, H, "06-03 14:30"),
            ("06-03 11:00", 0, H, "06-03 12:00"), // running out at an end keeps the end
            ("06-03 11:00", 0, H + 1, "06-03 13:30:01"),
            ("06-06 17:00", 0, H, "06-06 18:00"),
            ("06-06 18:00", 0, 0, "06-09 09:00"),
            ("06-06 17:59:59.5", 0, 0, "06-06 17:59:59.5"),
            ("06-06 17:59:59.5", 0, 1, "06-09 09:00:00.5"),
            ("06-06 17:59:59.5", 1, 0, "06-09 17:59:59.5"),
            ("06-06 18:00:00.5", 0, 0, "06-09 09:00"),
        ];
        check(&c, sh, &cases);
        let (eleven, noon) = (sh("06-03 11:00"), sh("06-03 12:00"));
        assert_eq!(c.next_working_instant(eleven), Some(eleven));
        assert_eq!(c.next_working_instant(noon), Some(sh("06-03 13:30")));
        let half = sh("06-06 17:59:59.5");
        assert_eq!(c.working_seconds_between(half, sh("06-09 09:00:00.5")), 1);
        assert_eq!(c.working_seconds_between(half, sh("06-09 09:00:00.4")), 0);
    }

    #[test]
    fn advancing_and_measuring_are_inverse() {
        let c = workdays_in("Asia/Shanghai");
        let (mon, week) = (sh("06-09 09:00"), 5 * 15 * H / 2);
        let mut cases = vec![(0, "06-09 09:00"), (3 * H, "06-09 12:00")];
        cases.extend([(3 * H + 1, "06-09 13:30:01"), (week, "06-13 18:00")]);
        for (s, end) in cases {
            assert_eq!(c.advance_working_seconds(mon, s), Some(sh(end)), "{s}");
            assert_eq!(c.working_seconds_between(mon, sh(end)), s, "{s}");
        }
        let (fri, mon) = (sh("06-06 17:00"), sh("06-09 10:00"));
        assert_eq!(c.working_seconds_between(fri, mon), 2 * H);
        assert_eq!(c.working_seconds_between(mon, fri), 0);
        for zone in ZONES {
            let c = workdays_in(zone);
            let mut seed = 12_345;
            for _ in 0..2000 {
                // From 2025-01-01, a quarter of them a fraction into a second.
                let at = 1_735_689_600 + (lcg(&mut seed) % (400 * 86_400)) as i64;
                let frac = lcg(&mut seed) % 1_000_000_000 * u64::from(seed.is_multiple_of(4));
                let start = Timestamp::new(at, frac as i32).unwrap();
                let s = lcg(&mut seed) % (6 * 86_400);
                let begin = c.next_working_instant(start).unwrap();
                let end = c.add_working(start, 0, s).unwrap();
                let msg = format!("{zone}: {start} + {s}s");
                assert_eq!(c.working_seconds_between(begin, end), s, "{msg}");
                assert_eq!(c.advance_working_seconds(begin, s), Some(end));
                let days = (lcg(&mut seed) % 12) as u32;
                assert!(c.add_working(start, days, s).unwrap() >= end, "{msg}");
            }
        }
    }

    #[test]
    fn whole_days_change_nothing() {
        let dst = std::array::from_fn(|_| vec![iv(100, 400), iv(900, 1700)]);
        let full = std::array::from_fn(|d| if d < 6 { vec![iv(0, 2400)] } else { vec![] });
        let mut calendars: Vec<Calendar> = ZONES.iter().map(|z| workdays_in(z)).collect();
        for zone in ["Europe/Berlin", "Pacific/Apia", "America/New_York"] {
            let tz = TimeZone::get(zone).unwrap();
            calendars.push(Calendar::new(tz.clone(), dst.clone(), [], []));
            calendars.push(Calendar::new(tz, full.clone(), [date(2011, 12, 29)], []));
        }
        let mut seed = 7;
        for c in &calendars {
            for _ in 0..3000 {
                // 2010..2031, across DST changes and Apia's lost day (2011-12-30).
                let at = 1_262_304_000 + (lcg(&mut seed) % (21 * 366 * 86_400)) as i64;
                let frac = lcg(&mut seed) % 1_000_000_000 * u64::from(seed.is_multiple_of(3));
                let start = Timestamp::new(at, frac as i32).unwrap();
                let amount = lcg(&mut seed) % (40 * 86_400);
                let split_at = split(start);
                let whole = c.advance(&mut Zone::new(c), split_at, amount, true);
                let parts = c.advance(&mut Zone::new(c), split_at, amount, false);
                assert_eq!(whole, parts, "{:?}: {start} + {amount}s", c.tz.iana_name());
                let later =
                    start + SignedDuration::from_secs((lcg(&mut seed) % (60 * 86_400)) as i64);
                let (w, p) = (
                    c.between(start, later, true),
                    c.between(start, later, false),
                );
                assert_eq!(w, p, "{:?}: {start} to {later}", c.tz.iana_name());
            }
        }
    }

    #[test]
    fn holidays_spread_too_wide_for_marks_are_searched() {
        let week: [Vec<DayInterval>; 7] =
            std::array::from_fn(|d| if d < 5 { vec![iv(900, 1700)] } else { vec![] });
        let near = [date(2025, 10, 1), date(2025, 10, 2)];
        let far = near.into_iter().chain([date(1800, 1, 1)]);
        let makeup = [date(2025, 9, 28)];
        let marked = Calendar::new(TimeZone::UTC, week.clone(), near, makeup);
        let searched = Calendar::new(TimeZone::UTC, week, far, makeup);
        assert!(!marked.marks.is_empty() && searched.marks.is_empty());
        for d in 0..60 {
            let day = date(2025, 9, 15) + SignedDuration::from_hours(24 * d);
            let (m, s) = (marked.is_working_day(day), searched.is_working_day(day));
            assert_eq!(m, s, "{day}");
        }
        assert!(!searched.is_working_day(date(2025, 10, 1)));
        assert!(searched.is_working_day(date(2025, 9, 28)));
        let t = ts("2025-09-26T10:00Z");
        // Sunday 09-28 is worked, 10-01 and 10-02 are not.
        assert_eq!(searched.add_working(t, 5, 0), Some(ts("2025-10-06T10:00Z")));
        assert_eq!(marked.add_working(t, 5, 0), searched.add_working(t, 5, 0));
    }

    #[test]
    fn always_is_plain_time() {
        let a = Calendar::always(TimeZone::get("Europe/Berlin").unwrap());
        let t = "2025-03-29T17:00:00.25Z";
        let cases = [
            (t, 1, H, "2025-03-30T18:00:00.25Z"),
            (t, 0, 9, "2025-03-29T17:00:09.25Z"),
        ];
        check(&a, ts, &cases);
        let (t, later) = (ts(t), ts("2025-03-30T18:00:00.5Z"));
        assert_eq!(a.next_working_instant(t), Some(t));
        assert_eq!(a.working_seconds_between(t, later), 25 * H);
        assert!(a.is_working_day(date(2025, 3, 30)));
        assert_eq!(a.add_working(t, u32::MAX, u64::MAX), None);
    }

    #[test]
    fn no_working_time_gives_up() {
        let t = ts("2025-06-06T17:00:00Z");
        let empty = Calendar::new(TimeZone::UTC, Default::default(), [], [date(2025, 6, 7)]);
        assert!(!empty.is_working_day(date(2025, 6, 7)));
        assert_eq!(empty.next_working_instant(t), None);
        assert_eq!(empty.add_working(t, 3, 60), None);
        assert_eq!(empty.advance_working_seconds(t, 60), None);
        assert_eq!(empty.working_seconds_between(t, Timestamp::MAX), 0);
        // There is working time, but only after twelve years of holidays.
        let holidays = (0..12 * 366).map(|d| EPOCH.date() + SignedDuration::from_hours(24 * d));
        let week = std::array::from_fn(|_| vec![iv(900, 1700)]);
        let c = Calendar::new(TimeZone::UTC, week, holidays, []);
        assert_eq!(c.next_working_instant(ts("1970-01-01T10:00Z")), None);
        assert_eq!(c.add_working(ts("1969-12-31T10:00Z"), 5, 0), None);
        // Too much work for the representable range.
        let c = workdays_in("Asia/Shanghai");
        assert_eq!(c.add_working(t, u32::MAX, 0), None);
        assert_eq!(c.advance_working_seconds(t, u64::MAX), None);
    }

    #[test]
    fn daylight_saving_time() {
        let week = std::array::from_fn(|_| vec![iv(100, 400), iv(900, 1700)]);
        let c = Calendar::new(TimeZone::get("Europe/Berlin").unwrap(), week, [], []);
        let cases = [
            // 2025-03-30, 02:00 → 03:00: the early interval lasts two hours.
            ("2025-03-30T00:00+01:00", 0, 2 * H, "2025-03-30T04:00+02:00"),
            ("2025-03-30T00:00+01:00", 0, 3 * H, "2025-03-30T10:00+02:00"),
            ("2025-03-29T16:00+01:00", 0, 2 * H, "2025-03-30T03:00+02:00"),
            ("2025-03-29T12:00+01:00", 1, 0, "2025-03-30T12:00+02:00"), // 23 hours later
            // 2025-10-26, 03:00 → 02:00: the early interval lasts four hours.
            ("2025-10-26T00:00+02:00", 0, 4 * H, "2025-10-26T04:00+01:00"),
            ("2025-10-26T02:30+01:00", 0, H, "2025-10-26T03:30+01:00"), // the repeat works too
            ("2025-10-25T12:00+02:00", 1, 0, "2025-10-26T12:00+01:00"), // 25 hours later
        ];
        check(&c, ts, &cases);
        let (from, to) = (ts("2025-03-30T00:00+01:00"), ts("2025-03-30T05:00+02:00"));
        assert_eq!(c.working_seconds_between(from, to), 2 * H);
        let (from, to) = (ts("2025-10-26T00:00+02:00"), ts("2025-10-26T05:00+01:00"));
        assert_eq!(c.working_seconds_between(from, to), 4 * H);
    }

    #[test]
    fn conversions_match_jiff() {
        let civil = |s| EPOCH + SignedDuration::from_secs(s);
        for tz in ZONES.map(|z| TimeZone::get(z).unwrap()) {
            let c = Calendar::new(tz.clone(), Default::default(), [], []);
            let (mut zone, mut seed) = (Zone::new(&c), 99);
            for _ in 0..20_000 {
                // 1960..2230: the offset table and the fallback beyond it.
                let t = -315_619_200 + (lcg(&mut seed) % 8_520_000_000) as i64;
                let local = zone.local(t);
                assert_eq!(
                    civil(local),
                    tz.to_datetime(Timestamp::from_second(t).unwrap())
                );
                let l = local + (lcg(&mut seed) % 7200) as i64 - 3600;
                let want = tz.to_ambiguous_timestamp(civil(l)).compatible().unwrap();
                assert_eq!(zone.instant(l), Some(want.as_second()), "{}", civil(l));
            }
        }
        assert_eq!(
            Timestamp::from_second(TABLE_TO).unwrap(),
            ts("2200-01-01T00:00Z")
        );
        assert_eq!(days_from_civil(date(9999, 12, 31)), MAX_DAY);
        for d in (-800_000..800_000).step_by(997) {
            let date = EPOCH.date() + SignedDuration::from_hours(24 * d);
            assert_eq!(days_from_civil(date), d);
            assert_eq!(weekday(d), date.weekday().to_monday_zero_offset() as usize);
        }
    }

    #[test]
    fn intervals_are_normalised() {
        let mut messy = vec![iv(1300, 1500), iv(900, 1000), iv(1400, 1600)];
        messy.extend([iv(1000, 1100), iv(1200, 1200), iv(2300, 2500)]);
        let want = vec![iv(900, 1100), iv(1300, 1600), iv(2300, 2400)];
        assert_eq!(normalise(messy), want);
        // Midnight-to-midnight days join up.
        let week = std::array::from_fn(|_| vec![iv(0, 2400)]);
        let c = Calendar::new(TimeZone::UTC, week, [], []);
        let (t, later) = (ts("2025-06-06T17:00Z"), ts("2025-06-09T17:00Z"));
        assert_eq!(c.add_working(t, 0, 24 * H), Some(ts("2025-06-07T17:00Z")));
        assert_eq!(c.working_seconds_between(t, later), 72 * H);
    }
}

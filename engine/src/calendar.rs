//! Working-time calendars (LANGUAGE.md section 4).
//!
//! A working duration advances only through the calendar's working
//! intervals in the policy's time zone. Intervals are half-open `[start, end)`
//! in local wall-clock time. `Nd working` means the same time of day on the
//! N-th working day after the clock starts (or the next working instant after
//! it); hours and minutes then advance interval by interval.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// How far ahead a search for working time goes before giving up (ten years).
const HORIZON_DAYS: u32 = 3660;

/// A half-open wall-clock interval of a day, in seconds since local midnight: [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DayInterval {
    /// Start, seconds since midnight.
    pub start: u32,
    /// End, seconds since midnight (up to 86 400).
    pub end: u32,
}

/// A working-time calendar in one time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    week: [Vec<DayInterval>; 7],
    holidays: Vec<Date>,
    workdays: Vec<Date>,
    always: bool,
}

fn normalise(mut v: Vec<DayInterval>) -> Vec<DayInterval> {
    v.retain(|i| i.end > i.start);
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

impl Calendar {
    /// `week[0]` is Monday … `week[6]` Sunday.
    pub fn new(
        tz: TimeZone,
        week: [Vec<DayInterval>; 7],
        holidays: impl IntoIterator<Item = Date>,
        workdays: impl IntoIterator<Item = Date>,
    ) -> Calendar {
        let mut holidays: Vec<Date> = holidays.into_iter().collect();
        holidays.sort_unstable();
        holidays.dedup();
        let mut workdays: Vec<Date> = workdays.into_iter().collect();
        workdays.sort_unstable();
        workdays.dedup();
        Calendar {
            tz,
            week: week.map(normalise),
            holidays,
            workdays,
            always: false,
        }
    }

    /// A calendar where every instant is working time.
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
        !self.intervals(date).is_empty()
    }

    /// The working intervals of a date.
    fn intervals(&self, date: Date) -> &[DayInterval] {
        if self.workdays.binary_search(&date).is_ok() {
            // A make-up working day works Monday's hours (or the first
            // weekday's that has any).
            return self
                .week
                .iter()
                .find(|w| !w.is_empty())
                .map_or(&[], Vec::as_slice);
        }
        if self.holidays.binary_search(&date).is_ok() {
            return &[];
        }
        let wd = date.weekday().to_monday_zero_offset() as usize;
        self.week.get(wd).map_or(&[], Vec::as_slice)
    }

    fn local(&self, t: Timestamp) -> DateTime {
        self.tz.to_offset(t).to_datetime(t)
    }

    fn instant(&self, date: Date, second: u32) -> Option<Timestamp> {
        let day_start = date.to_datetime(Time::midnight());
        let dt = day_start
            .checked_add(SignedDuration::from_secs(i64::from(second)))
            .ok()?;
        self.tz.to_ambiguous_timestamp(dt).compatible().ok()
    }

    /// The first instant >= t that is working time; None if none within the search horizon.
    pub fn next_working_instant(&self, t: Timestamp) -> Option<Timestamp> {
        if self.always {
            return Some(t);
        }
        let local = self.local(t);
        let mut date = local.date();
        let sec = seconds_of_day(local);
        for i in 0..HORIZON_DAYS {
            for iv in self.intervals(date) {
                if i > 0 || sec < iv.end {
                    let s = if i == 0 { sec.max(iv.start) } else { iv.start };
                    let at = if i == 0 && s == sec {
                        t
                    } else {
                        self.instant(date, s)?
                    };
                    return Some(at);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Adds `days` working days and then `seconds` of working time to `start`.
    pub fn add_working(&self, start: Timestamp, days: u32, seconds: u64) -> Option<Timestamp> {
        if self.always {
            let total = u64::from(days) * 86_400 + seconds;
            return start
                .checked_add(SignedDuration::from_secs(i64::try_from(total).ok()?))
                .ok();
        }
        let mut t = self.next_working_instant(start)?;
        if days > 0 {
            let local = self.local(t);
            let mut date = local.date();
            let mut left = days;
            let mut guard = 0;
            while left > 0 {
                date = date.tomorrow().ok()?;
                if self.is_working_day(date) {
                    left -= 1;
                }
                guard += 1;
                if guard > HORIZON_DAYS {
                    return None;
                }
            }
            let same_time = self.instant(date, seconds_of_day(local))?;
            t = self.next_working_instant(same_time)?;
        }
        self.advance_working_seconds(t, seconds)
    }

    /// Advances `seconds` of working time from `start`. Reaching exactly the
    /// end of an interval returns that end instant.
    pub fn advance_working_seconds(&self, start: Timestamp, seconds: u64) -> Option<Timestamp> {
        if self.always {
            return start
                .checked_add(SignedDuration::from_secs(i64::try_from(seconds).ok()?))
                .ok();
        }
        let mut t = self.next_working_instant(start)?;
        let mut left = seconds;
        if left == 0 {
            return Some(t);
        }
        for _ in 0..HORIZON_DAYS * 4 {
            let local = self.local(t);
            let date = local.date();
            let sec = seconds_of_day(local);
            let iv = self
                .intervals(date)
                .iter()
                .find(|iv| sec >= iv.start && sec < iv.end)?;
            let room = u64::from(iv.end - sec);
            if left <= room {
                return t
                    .checked_add(SignedDuration::from_secs(i64::try_from(left).ok()?))
                    .ok();
            }
            left -= room;
            let end = self.instant(date, iv.end)?;
            t = self.next_working_instant(end)?;
        }
        None
    }

    /// Working seconds in [a, b) (0 if b <= a).
    pub fn working_seconds_between(&self, a: Timestamp, b: Timestamp) -> u64 {
        if b <= a {
            return 0;
        }
        if self.always {
            return u64::try_from(b.as_second() - a.as_second()).unwrap_or(0);
        }
        let mut total = 0u64;
        let Some(mut t) = self.next_working_instant(a) else {
            return 0;
        };
        for _ in 0..HORIZON_DAYS * 4 {
            if t >= b {
                break;
            }
            let local = self.local(t);
            let date = local.date();
            let sec = seconds_of_day(local);
            let Some(iv) = self
                .intervals(date)
                .iter()
                .find(|iv| sec >= iv.start && sec < iv.end)
            else {
                break;
            };
            let Some(end) = self.instant(date, iv.end) else {
                break;
            };
            let stop = end.min(b);
            total += u64::try_from(stop.as_second() - t.as_second()).unwrap_or(0);
            match self.next_working_instant(end) {
                Some(n) => t = n,
                None => break,
            }
        }
        total
    }
}

fn seconds_of_day(dt: DateTime) -> u32 {
    let t = dt.time();
    u32::try_from(t.hour()).unwrap_or(0) * 3600
        + u32::try_from(t.minute()).unwrap_or(0) * 60
        + u32::try_from(t.second()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn workdays() -> Calendar {
        let iv = vec![
            DayInterval {
                start: 9 * 3600,
                end: 12 * 3600,
            },
            DayInterval {
                start: 13 * 3600 + 1800,
                end: 18 * 3600,
            },
        ];
        let week = [
            iv.clone(),
            iv.clone(),
            iv.clone(),
            iv.clone(),
            iv,
            vec![],
            vec![],
        ];
        let holidays: Vec<Date> = (1..=8).map(|d| Date::new(2025, 10, d).unwrap()).collect();
        Calendar::new(
            TimeZone::get("Asia/Shanghai").unwrap(),
            week,
            holidays,
            [Date::new(2025, 9, 28).unwrap()],
        )
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_spec_examples() {
        let c = workdays();
        let fri = ts("2025-06-06T17:00:00+08:00");
        assert_eq!(
            c.add_working(fri, 0, 2 * 3600),
            Some(ts("2025-06-09T10:00:00+08:00"))
        );
        assert_eq!(
            c.add_working(fri, 3, 0),
            Some(ts("2025-06-11T17:00:00+08:00"))
        );
    }

    #[test]
    fn interval_ends_and_lunch() {
        let c = workdays();
        let fri = ts("2025-06-06T17:00:00+08:00");
        assert_eq!(
            c.add_working(fri, 0, 3600),
            Some(ts("2025-06-06T18:00:00+08:00"))
        );
        let lunch = ts("2025-06-03T12:30:00+08:00");
        assert_eq!(
            c.next_working_instant(lunch),
            Some(ts("2025-06-03T13:30:00+08:00"))
        );
        assert_eq!(
            c.add_working(lunch, 0, 1800),
            Some(ts("2025-06-03T14:00:00+08:00"))
        );
        let at_end = ts("2025-06-03T12:00:00+08:00");
        assert_eq!(
            c.next_working_instant(at_end),
            Some(ts("2025-06-03T13:30:00+08:00"))
        );
    }

    #[test]
    fn holidays_and_make_up_days() {
        let c = workdays();
        // Sunday 2025-09-28 is worked; National Day is not.
        assert!(c.is_working_day(Date::new(2025, 9, 28).unwrap()));
        assert!(!c.is_working_day(Date::new(2025, 10, 3).unwrap()));
        let before = ts("2025-09-30T17:00:00+08:00");
        assert_eq!(
            c.add_working(before, 0, 2 * 3600),
            Some(ts("2025-10-09T10:00:00+08:00"))
        );
        let sat = ts("2025-09-27T10:00:00+08:00");
        assert_eq!(
            c.add_working(sat, 0, 3600),
            Some(ts("2025-09-28T10:00:00+08:00"))
        );
    }

    #[test]
    fn seconds_between_inverts_advance() {
        let c = workdays();
        let mut seed = 12345u64;
        for _ in 0..500 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let start = ts("2025-09-01T00:00:00+08:00")
                .checked_add(SignedDuration::from_secs(
                    (seed >> 33) as i64 % (60 * 86_400),
                ))
                .unwrap();
            let s = (seed >> 20) % (5 * 86_400);
            let begin = c.next_working_instant(start).unwrap();
            let end = c.add_working(start, 0, s).unwrap();
            assert_eq!(
                c.working_seconds_between(begin, end),
                s,
                "from {start} by {s}"
            );
        }
    }

    #[test]
    fn always_is_plain_time_and_an_empty_week_gives_up() {
        let a = Calendar::always(TimeZone::UTC);
        let t = ts("2025-06-06T17:00:00Z");
        assert_eq!(a.add_working(t, 1, 3600), Some(ts("2025-06-07T18:00:00Z")));
        let empty = Calendar::new(TimeZone::UTC, Default::default(), [], []);
        assert_eq!(empty.add_working(t, 0, 60), None);
        assert_eq!(
            empty.working_seconds_between(t, ts("2026-06-06T17:00:00Z")),
            0
        );
    }

    #[test]
    fn daylight_saving_time() {
        let iv = vec![DayInterval {
            start: 0,
            end: 86_400,
        }];
        let week = std::array::from_fn(|_| iv.clone());
        let c = Calendar::new(TimeZone::get("Europe/Berlin").unwrap(), week, [], []);
        // The night of 2025-03-30 has 23 hours; a working day still means "same time next day".
        let t = ts("2025-03-29T12:00:00+01:00");
        assert_eq!(
            c.add_working(t, 1, 0),
            Some(ts("2025-03-30T12:00:00+02:00"))
        );
    }
}

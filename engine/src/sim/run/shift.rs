//! The working stretch of a staff kind's calendar that the clock is in (or
//! waits for), kept between wake-ups: within one working day, an
//! acceptance delay or a handling time that fits before the stretch ends
//! is plain addition, and asking the calendar (a walk over its days with
//! time-zone conversions, about 400 instructions) is needed only when the
//! clock leaves the stretch.

use jiff::Timestamp;

use crate::calendar::Calendar;

/// From `from` on, the next working time is `[open, to)` (UTC seconds);
/// empty until first asked.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Shift {
    from: i64,
    open: i64,
    to: i64,
}

impl Shift {
    /// `now` plus `seconds` of working time of `cal` (plain time without
    /// one): [`Calendar::advance_working_seconds`], on whole seconds.
    pub fn advance(&mut self, cal: Option<&Calendar>, now: i64, seconds: i64) -> i64 {
        let Some(cal) = cal else {
            return now.saturating_add(seconds);
        };
        if let Some(t) = self.fits(cal, now, seconds) {
            return t;
        }
        cal.advance_working_seconds(ts(now), u64::try_from(seconds).unwrap_or(0))
            .map_or(i64::MAX, |t| t.as_second())
    }

    /// The first working instant of `cal` at or after `now`:
    /// [`Calendar::next_working_instant`], on whole seconds.
    pub fn opens(&mut self, cal: &Calendar, now: i64) -> i64 {
        if let Some(t) = self.fits(cal, now, 0) {
            return t;
        }
        cal.next_working_instant(ts(now))
            .map_or(i64::MAX, |t| t.as_second())
    }

    /// The answer from the stretch, learning the stretch of `now` first
    /// when the one kept does not cover it; `None` when the answer lies
    /// beyond the stretch's end.
    fn fits(&mut self, cal: &Calendar, now: i64, seconds: i64) -> Option<i64> {
        if !(self.from <= now && now < self.to) {
            let (open, to) = cal.next_stretch(ts(now))?;
            *self = Shift {
                from: now,
                open: open.as_second(),
                to: to.as_second(),
            };
        }
        let done = self.open.max(now).checked_add(seconds)?;
        (seconds >= 0 && done <= self.to).then_some(done)
    }
}

fn ts(t: i64) -> Timestamp {
    Timestamp::from_second(t).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::calendar::DayInterval;
    use jiff::civil::Date;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;

    fn iv(start: u32, end: u32) -> DayInterval {
        DayInterval { start, end }
    }

    fn date(y: i16, m: i8, d: i8) -> Date {
        Date::new(y, m, d).unwrap()
    }

    /// Office hours with a lunch break, Saturday mornings, holidays and a
    /// make-up working day, in Shanghai; night intervals across the hour
    /// the clocks change, in Berlin; round-the-clock time.
    fn calendars() -> Vec<Calendar> {
        let office = vec![iv(9 * 3600, 12 * 3600), iv(13 * 3600 + 1800, 18 * 3600)];
        let week = std::array::from_fn(|d| match d {
            0..5 => office.clone(),
            5 => vec![iv(9 * 3600, 12 * 3600)],
            _ => vec![],
        });
        let holidays = (1..=7).map(|d| date(2026, 10, d));
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let nights = std::array::from_fn(|_| vec![iv(3600, 4 * 3600), iv(9 * 3600, 17 * 3600)]);
        vec![
            Calendar::new(shanghai.clone(), week, holidays, [date(2026, 10, 11)]),
            Calendar::new(berlin, nights, [], []),
            Calendar::always(shanghai),
        ]
    }

    proptest! {
        /// A shift kept across a run of forward-moving clocks answers as
        /// the calendar does, whatever the stretch it kept.
        #[test]
        fn a_kept_shift_answers_as_the_calendar(
            start in 1_767_196_800i64..1_798_732_800, // 2026
            steps in proptest::collection::vec((0i64..40_000, 0i64..30_000), 1..60),
        ) {
            for cal in calendars() {
                let mut shift = Shift::default();
                let mut now = start;
                for &(gap, seconds) in &steps {
                    now += gap;
                    let want = cal
                        .advance_working_seconds(ts(now), u64::try_from(seconds).unwrap())
                        .map_or(i64::MAX, |t| t.as_second());
                    prop_assert_eq!(shift.advance(Some(&cal), now, seconds), want, "advance {} by {}", now, seconds);
                    let want = cal.next_working_instant(ts(now)).map_or(i64::MAX, |t| t.as_second());
                    prop_assert_eq!(shift.opens(&cal, now), want, "opens at {}", now);
                }
            }
        }
    }

    #[test]
    fn without_a_calendar_time_is_plain() {
        let mut shift = Shift::default();
        assert_eq!(shift.advance(None, 1_000, 500), 1_500);
    }
}

//! Working hours of a pool of handlers, as the engine's own [`Calendar`]:
//! `always`, `office` (the policy's calendar), or week intervals written
//! like `mon..fri 08:00-20:00; sat,sun 09:00-12:00, 13:00-17:00`.

use jiff::tz::TimeZone;

use crate::calendar::{Calendar, DayInterval};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// What `hours` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hours {
    /// Around the clock.
    Always,
    /// The policy's working calendar.
    Office,
    /// These intervals each week (no holidays).
    Week([Vec<DayInterval>; 7]),
}

impl Hours {
    /// Parses `hours`; the error says what was expected.
    pub fn parse(text: &str) -> Result<Hours, String> {
        match text.trim() {
            "always" => return Ok(Hours::Always),
            "office" => return Ok(Hours::Office),
            _ => {}
        }
        let mut week: [Vec<DayInterval>; 7] = Default::default();
        for group in text.split(';').map(str::trim).filter(|g| !g.is_empty()) {
            let (days, times) = group.split_once(' ').ok_or_else(|| {
                format!("`{group}` is not days and times such as `mon..fri 08:00-18:00`")
            })?;
            let days = parse_days(days)?;
            for range in times.split(',').map(str::trim) {
                let (a, b) = range.split_once('-').ok_or_else(|| {
                    format!("`{range}` is not a time range such as `08:00-18:00`")
                })?;
                let (start, end) = (clock(a)?, clock(b)?);
                if end <= start {
                    return Err(format!("`{range}` ends before it starts"));
                }
                for &d in &days {
                    if let Some(w) = week.get_mut(d) {
                        w.push(DayInterval { start, end });
                    }
                }
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err("no working time at all; write `always`, `office` or days and times such as `mon..fri 08:00-18:00`".into());
        }
        Ok(Hours::Week(week))
    }

    /// The calendar for these hours (`None` for `always`, which needs none).
    pub fn calendar(&self, policy_calendar: &Calendar, tz: &TimeZone) -> Option<Calendar> {
        match self {
            Hours::Always => None,
            Hours::Office => Some(policy_calendar.clone()),
            Hours::Week(w) => Some(Calendar::new(tz.clone(), w.clone(), [], [])),
        }
    }
}

fn day(name: &str) -> Result<usize, String> {
    DAYS.iter()
        .position(|d| *d == name.trim())
        .ok_or_else(|| format!("`{name}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)"))
}

fn parse_days(text: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        match part.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                if b < a {
                    return Err(format!("`{part}` runs backwards"));
                }
                out.extend(a..=b);
            }
            None => out.push(day(part)?),
        }
    }
    Ok(out)
}

/// `08:00` → seconds since midnight (`24:00` allowed as an end).
fn clock(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a time of day such as `08:00`");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn week_intervals() {
        let Hours::Week(w) =
            Hours::parse("mon..fri 08:00-12:00, 13:00-18:00; sun 09:00-24:00").unwrap()
        else {
            panic!("not a week")
        };
        assert_eq!(w[0].len(), 2);
        assert_eq!(
            w[4][1],
            DayInterval {
                start: 13 * 3600,
                end: 18 * 3600
            }
        );
        assert!(w[5].is_empty());
        assert_eq!(w[6][0].end, 86_400);
        assert_eq!(Hours::parse("always").unwrap(), Hours::Always);
        assert!(
            Hours::parse("mon..fri")
                .unwrap_err()
                .contains("days and times")
        );
        assert!(
            Hours::parse("mon..fry 08:00-09:00")
                .unwrap_err()
                .contains("`fry`")
        );
        assert!(
            Hours::parse("mon 09:00-08:00")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(
            Hours::parse("mon 25:00-26:00")
                .unwrap_err()
                .contains("time of day")
        );
    }
}

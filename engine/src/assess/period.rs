//! Periods of an assessment: `2026`, `2026-Q2`, `2026-06`, `2026-06-03`,
//! `2026-06-01..2026-06-15` (both days included), in the policy's time zone.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::report::PeriodRef;

/// A half-open span of time `[from, until)`: the events reported in it are
/// the period's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// As written.
    pub label: String,
    /// First instant (midnight of the first day, in the time zone).
    pub from: Timestamp,
    /// First instant after the period (midnight after its last day).
    pub until: Timestamp,
}

/// Why a text is not a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodError(pub String);

impl std::fmt::Display for PeriodError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeriodError {}

const FORMS: &str = "use a year (2026), a quarter (2026-Q2), a month (2026-06), a day (2026-06-03) \
     or a range of days (2026-06-01..2026-06-15)";

fn bad(text: &str, why: &str) -> PeriodError {
    PeriodError(format!("`{text}` is not a period: {why}; {FORMS}"))
}

fn number(s: &str, digits: usize) -> Option<i32> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The first year a period may name: the store takes no event reported
/// before 1970, so an earlier period could only ever be empty (a typo
/// such as `0026` for `2026`).
const FIRST_YEAR: i32 = 1970;

fn year(text: &str, s: &str) -> Result<i16, PeriodError> {
    let y = number(s, 4).ok_or_else(|| bad(text, &format!("`{s}` is not a four-digit year")))?;
    if y < FIRST_YEAR {
        return Err(bad(
            text,
            &format!("{y:04} is before {FIRST_YEAR}, and no event is reported before {FIRST_YEAR}"),
        ));
    }
    i16::try_from(y).map_err(|_| bad(text, "the year is out of range"))
}

fn date(text: &str, y: i16, m: i32, d: i32) -> Result<Date, PeriodError> {
    let (Ok(m8), Ok(d8)) = (i8::try_from(m), i8::try_from(d)) else {
        return Err(bad(text, "no such day"));
    };
    Date::new(y, m8, d8).map_err(|_| bad(text, &format!("{y:04}-{m:02}-{d:02} is not a day")))
}

/// The first day of the month `months` after January of year `y`.
/// Why a period that runs past the calendar's end is refused.
const TOO_LATE: &str = "a period ends on 9999-12-30 at the latest";

fn month_start(text: &str, y: i16, months: i32) -> Result<Date, PeriodError> {
    let y = i32::from(y) + months.div_euclid(12);
    if y > 9999 {
        return Err(bad(text, TOO_LATE));
    }
    let y = i16::try_from(y).map_err(|_| bad(text, "the year is out of range"))?;
    date(text, y, months.rem_euclid(12) + 1, 1)
}

fn day(text: &str, s: &str) -> Result<Date, PeriodError> {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad(text, &format!("`{s}` is not a day like 2026-06-03")));
    };
    let y = year(text, y)?;
    let m = number(m, 2).ok_or_else(|| bad(text, &format!("`{s}` has no two-digit month")))?;
    let d = number(d, 2).ok_or_else(|| bad(text, &format!("`{s}` has no two-digit day")))?;
    date(text, y, m, d)
}

fn midnight(text: &str, d: Date, tz: &TimeZone) -> Result<Timestamp, PeriodError> {
    tz.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        // Only the calendar's very ends have no midnight instant.
        .map_err(|_| {
            bad(
                text,
                if d.year() > 0 {
                    TOO_LATE
                } else {
                    "the year is out of range"
                },
            )
        })
}

/// What is wrong with the month part `m` of `YYYY-MM`: `6` is a month,
/// written with one digit too few.
fn month_message(m: &str) -> String {
    match m.parse::<u32>() {
        Ok(n @ 1..=9) if m.len() == 1 => {
            format!("write the month with two digits: `0{n}`, not `{m}`")
        }
        _ => format!("`{m}` is not a month 01 to 12"),
    }
}

impl Period {
    /// Parses a period in time zone `tz`.
    pub fn parse(text: &str, tz: &TimeZone) -> Result<Period, PeriodError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(bad(text, "it is empty"));
        }
        let (first, after) = if let Some((a, b)) = s.split_once("..") {
            let (a, b) = (day(text, a.trim())?, day(text, b.trim())?);
            if b < a {
                return Err(bad(text, "the range runs backwards"));
            }
            let next = b.tomorrow().map_err(|_| bad(text, TOO_LATE))?;
            (a, next)
        } else {
            let parts: Vec<&str> = s.split('-').collect();
            match parts[..] {
                [y] => {
                    let y = year(text, y)?;
                    (month_start(text, y, 0)?, month_start(text, y, 12)?)
                }
                [y, q] if q.starts_with(['Q', 'q']) => {
                    let y = year(text, y)?;
                    let n = number(&q[1..], 1)
                        .filter(|n| (1..=4).contains(n))
                        .ok_or_else(|| bad(text, &format!("`{q}` is not a quarter Q1 to Q4")))?;
                    (
                        month_start(text, y, (n - 1) * 3)?,
                        month_start(text, y, n * 3)?,
                    )
                }
                [y, m] => {
                    let y = year(text, y)?;
                    let m = number(m, 2)
                        .filter(|m| (1..=12).contains(m))
                        .ok_or_else(|| bad(text, &month_message(m)))?;
                    (month_start(text, y, m - 1)?, month_start(text, y, m)?)
                }
                [_, _, _] => {
                    let d = day(text, s)?;
                    let next = d.tomorrow().map_err(|_| bad(text, TOO_LATE))?;
                    (d, next)
                }
                _ => return Err(bad(text, "it has too many parts")),
            }
        };
        Ok(Period {
            label: s.to_string(),
            from: midnight(text, first, tz)?,
            until: midnight(text, after, tz)?,
        })
    }

    /// Whether an instant (a `reported_at`) lies in the period.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && t < self.until
    }

    /// The instant to take facts at: the end of the period, or `now` if
    /// that is earlier (a period still running).
    pub fn facts_at(&self, now: Timestamp) -> Timestamp {
        self.until.min(now)
    }

    /// The period as a report states it, facts taken at `facts_at`.
    pub fn describe(&self, facts_at: Timestamp) -> PeriodRef {
        PeriodRef {
            label: self.label.clone(),
            from: self.from,
            until: self.until,
            facts_at,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(s: &str) -> Result<(String, String), String> {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        Period::parse(s, &tz)
            .map(|p| (p.from.to_string(), p.until.to_string()))
            .map_err(|e| e.0)
    }

    #[test]
    fn every_form_gives_local_midnights() {
        // Shanghai is UTC+8: local midnight is 16:00 UTC the day before.
        assert_eq!(
            p("2026-06").unwrap(),
            ("2026-05-31T16:00:00Z".into(), "2026-06-30T16:00:00Z".into())
        );
        assert_eq!(
            p("2026").unwrap(),
            ("2025-12-31T16:00:00Z".into(), "2026-12-31T16:00:00Z".into())
        );
        assert_eq!(
            p("2026-Q4").unwrap(),
            ("2026-09-30T16:00:00Z".into(), "2026-12-31T16:00:00Z".into())
        );
        assert_eq!(
            p("2026-12").unwrap().1,
            "2026-12-31T16:00:00Z",
            "December ends at the next year"
        );
        assert_eq!(
            p("2026-06-01..2026-06-15").unwrap(),
            ("2026-05-31T16:00:00Z".into(), "2026-06-15T16:00:00Z".into())
        );
        assert_eq!(
            p("2026-06-03").unwrap(),
            ("2026-06-02T16:00:00Z".into(), "2026-06-03T16:00:00Z".into())
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(p("2026-13").unwrap_err().contains("`13` is not a month"));
        assert!(p("2026-Q5").unwrap_err().contains("not a quarter"));
        assert!(
            p("2026-02-30")
                .unwrap_err()
                .contains("2026-02-30 is not a day")
        );
        assert!(
            p("2026-06-15..2026-06-01")
                .unwrap_err()
                .contains("backwards")
        );
        assert!(p("June").unwrap_err().contains("four-digit year"));
        for early in [
            "0000",
            "0001",
            "0026-06",
            "1969-Q4",
            "1969-12-31..1970-01-02",
        ] {
            let e = p(early).unwrap_err();
            assert!(
                e.contains("before 1970, and no event is reported"),
                "{early}: {e}"
            );
        }
        assert!(p("1970-01-01").is_ok());
        assert!(p("").unwrap_err().contains("empty"));
        assert!(p("2026-06-01-02").unwrap_err().contains("too many parts"));
        // The calendar's end: said as a limit, not as a day that is not one.
        for late in [
            "9999",
            "9999-12",
            "9999-Q4",
            "9999-12-31",
            "9999-12-01..9999-12-31",
        ] {
            let e = p(late).unwrap_err();
            assert!(
                e.contains("ends on 9999-12-30 at the latest"),
                "{late}: {e}"
            );
        }
        assert!(p("9999-12-01..9999-12-29").is_ok());
    }
}

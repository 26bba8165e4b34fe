//! The fast way in for a well-formed event line: deserialised straight into
//! [`Event`], with the rules of `schemas/event.schema.json` checked by hand,
//! instead of a `serde_json::Value` tree that the schema validator walks
//! and serde then converts (about half of what parsing a line cost).
//!
//! It only ever says yes to what the schema accepts: anything it is not
//! sure of (an unknown or duplicate field, a `null`, a leap second, a
//! timestamp of an unusual shape) gets `None`, and the caller takes the
//! validating path, which accepts or explains exactly as before.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::event::{CompactString, Event, Source};
use crate::unique_json::UniqueMap;

/// The event as the schema allows it: the required fields, and the
/// optional ones present with their types (never `null`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    id: CompactString,
    category: CompactString,
    grid: CompactString,
    reported_at: String,
    #[serde(default, deserialize_with = "present")]
    source: Option<Source>,
    #[serde(default, deserialize_with = "present")]
    location: Option<CompactString>,
    #[serde(default, deserialize_with = "present")]
    attr: Option<UniqueMap>,
    #[serde(default, deserialize_with = "present")]
    reporter: Option<String>,
    #[serde(default, deserialize_with = "present")]
    description: Option<String>,
}

/// An optional field that, when present, must have its type: `null` is
/// refused (the schema refuses it), where `Option` would take it for absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `line` as an event if it is plainly a valid one; `None` to let the
/// validating path decide.
pub(crate) fn parse(line: &str) -> Option<Event> {
    let s: Strict = serde_json::from_str(line).ok()?;
    let id_chars = s.id.chars().count();
    // An id of blanks or with control characters: the validating path
    // says what is wrong with it.
    let odd_id = s.id.trim().is_empty() || s.id.chars().any(char::is_control);
    if !(1..=128).contains(&id_chars) || odd_id || s.category.is_empty() || s.grid.is_empty() {
        return None;
    }
    if !rfc3339_shape(s.reported_at.as_bytes()) {
        return None;
    }
    let reported_at: Timestamp = s.reported_at.parse().ok()?;
    Some(Event {
        id: s.id,
        category: s.category,
        grid: s.grid,
        source: s.source.unwrap_or_default(),
        reported_at,
        location: s.location,
        attr: s.attr.map_or(Value::Null, |m| Value::Object(m.0)),
        reporter: s.reporter,
        description: s.description,
    })
}

/// Whether `t` has the shape of the schema's `reported_at` pattern,
/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` with fields in range, leaving
/// out second 60 (whether a leap second is valid is the date-time format
/// check's call, so those take the validating path).
fn rfc3339_shape(t: &[u8]) -> bool {
    let digits =
        |r: std::ops::Range<usize>| t.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let num = |r: std::ops::Range<usize>| {
        t.get(r)
            .map(|d| d.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0')))
            .unwrap_or(u32::MAX)
    };
    let at = |i: usize, c: &[u8]| t.get(i).is_some_and(|b| c.contains(b));
    if !(digits(0..4) && at(4, b"-") && digits(5..7) && at(7, b"-") && digits(8..10)) {
        return false;
    }
    if !(at(10, b"Tt") && digits(11..13) && at(13, b":") && digits(14..16) && at(16, b":")) {
        return false;
    }
    if !digits(17..19) {
        return false;
    }
    let (month, day, hour, minute, second) =
        (num(5..7), num(8..10), num(11..13), num(14..16), num(17..19));
    if !((1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59)
    {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while t.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match t.get(i) {
        Some(b'Z' | b'z') => i + 1 == t.len(),
        Some(b'+' | b'-') => {
            i + 6 == t.len()
                && digits(i + 1..i + 3)
                && at(i + 3, b":")
                && digits(i + 4..i + 6)
                && num(i + 1..i + 3) <= 23
                && num(i + 4..i + 6) <= 59
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::event::parse_validating as parse_event;

    /// Lines the fast path must agree on with the validating one: whatever
    /// it accepts, the schema accepts as the same event.
    const LINES: &[&str] = &[
        r#"{"id":"E1","category":"fire_lane","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00.123456789Z","source":"sensor","location":"gate 3","attr":{"a":1,"b":{"c":[true,null]}},"reporter":"w","description":"d"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03t10:00:00z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2024-02-29T23:59:59-00:00"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-02-29T10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-31T10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2016-12-31T23:59:60Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:60Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T24:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+24:00"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00.Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00.1234567891Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00[Asia/Shanghai]"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03 10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"+2025-06-03T10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"２０２５-06-03T10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+0800"}"#,
        r#"{"id":"","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":"   ","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":"E\n1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":"E\u0007","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":" E 1 ","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":"E1","category":"","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","extra":1}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","location":null}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","attr":null}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","attr":[1]}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","attr":{}}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","source":null}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","source":"pigeon"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z","source":"Sensor"}"#,
        r#"{"id":"E1","id":"E2","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":1,"category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}"#,
        r#"{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"} trailing"#,
        r#"[{"id":"E1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00Z"}]"#,
        r#"{"id":"网格事件一","category":"占道经营","grid":"网格1","reported_at":"2025-06-03T10:00:00Z"}"#,
        "",
        "{",
        "null",
    ];

    fn agree(line: &str) {
        let slow = parse_event(line);
        if let Some(fast) = parse(line) {
            assert_eq!(slow, Ok(fast), "the fast path accepted {line}");
        }
    }

    #[test]
    fn accepts_only_what_the_schema_accepts_as_the_same_event() {
        for line in LINES {
            agree(line);
        }
        let accepted: Vec<usize> = (0..LINES.len())
            .filter(|&i| parse(LINES[i]).is_some())
            .collect();
        // The plain, the complete, lower-case `t`/`z`, a leap day at
        // `-00:00`, an id with spaces inside, an empty `attr`, and Chinese
        // names: every other line is invalid or unusual and goes the
        // validating way.
        assert_eq!(accepted, vec![0, 1, 2, 3, 22, 30, 38]);
        // Ids of blanks or with control characters are refused there.
        for line in &LINES[19..=21] {
            let said = parse_event(line).unwrap_err().0;
            assert!(said.starts_with("`id`:"), "{line}: {said}");
        }
    }

    #[test]
    fn ids_are_measured_in_characters() {
        let line = |id: &str| {
            format!(
                r#"{{"id":"{id}","category":"c","grid":"G","reported_at":"2025-06-03T10:00:00Z"}}"#
            )
        };
        // 128 three-byte characters: 384 bytes, still within the limit.
        let long = "事".repeat(128);
        assert!(parse(&line(&long)).is_some());
        agree(&line(&long));
        let longer = "事".repeat(129);
        assert!(parse(&line(&longer)).is_none());
        assert!(parse_event(&line(&longer)).is_err());
    }

    proptest::proptest! {
        /// Events put together from valid and invalid values of every
        /// field: the two paths never disagree on one the fast path takes.
        #[test]
        fn agrees_with_the_validating_path(
            fields in proptest::collection::vec(
                proptest::sample::select(vec![
                    r#""id":"E1""#, r#""id":"""#, r#""id":7"#, r#""id":null"#,
                    r#""category":"c""#, r#""category":"""#, r#""category":["c"]"#,
                    r#""grid":"G1""#, r#""grid":"""#,
                    r#""reported_at":"2025-06-03T10:00:00+08:00""#,
                    r#""reported_at":"2025-13-03T10:00:00Z""#,
                    r#""reported_at":"2025-06-03T10:00:00.5z""#,
                    r#""reported_at":"2025-06-03T23:59:60Z""#,
                    r#""reported_at":1748916000"#,
                    r#""source":"hotline""#, r#""source":"HOTLINE""#, r#""source":3"#,
                    r#""location":"gate""#, r#""location":5"#,
                    r#""attr":{"x":1}"#, r#""attr":"x""#, r#""attr":{}"#,
                    r#""reporter":"r""#, r#""reporter":null"#,
                    r#""description":"d""#, r#""other":1"#,
                ]),
                0..9,
            )
        ) {
            agree(&format!("{{{}}}", fields.join(",")));
        }
    }
}

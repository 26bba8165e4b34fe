//! Events (LANGUAGE.md section 8): the JSON format, its validation against
//! `schemas/event.schema.json`, and the typed form the engine decides.

use std::sync::LazyLock;

pub use compact_str::CompactString;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A grid worker's patrol.
    Patrol,
    /// A citizen, through the app (the default).
    #[default]
    Citizen,
    /// The 12345 hotline.
    Hotline,
    /// An IoT sensor.
    Sensor,
    /// Another department.
    Department,
}

impl Source {
    /// The source as written in events and conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Patrol => "patrol",
            Source::Citizen => "citizen",
            Source::Hotline => "hotline",
            Source::Sensor => "sensor",
            Source::Department => "department",
        }
    }

    /// The source's position in [`Source::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// All sources, in declaration order.
    pub const ALL: [Source; 5] = [
        Source::Patrol,
        Source::Citizen,
        Source::Hotline,
        Source::Sensor,
        Source::Department,
    ];
}

/// An incoming event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The reporter's id for it; unique per source system.
    pub id: CompactString,
    /// Its category (an unknown one goes to the fallback).
    pub category: CompactString,
    /// The grid it happened in.
    pub grid: CompactString,
    /// Where it came from.
    #[serde(default)]
    pub source: Source,
    /// When it was reported.
    pub reported_at: Timestamp,
    /// A finer place (a building, a gate); `repeats` groups by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<CompactString>,
    /// Free attributes the policy's conditions read (`attr.people_trapped`).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub attr: Value,
    /// Who reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    /// What was reported, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Event {
    /// Whether `other` is this event written another way: the same fields,
    /// with `attr` numbers compared by value (`2`, `2.0` and `2e0` are one
    /// number to every condition, so one event).
    pub fn same_as(&self, other: &Event) -> bool {
        self.id == other.id
            && self.category == other.category
            && self.grid == other.grid
            && self.source == other.source
            && self.reported_at == other.reported_at
            && self.location == other.location
            && self.reporter == other.reporter
            && self.description == other.description
            && same_value(&self.attr, &other.attr)
    }
}

/// JSON values equal, numbers by value (integers exactly, others as the
/// floating-point numbers conditions compare them as).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return i == j;
            }
            if let (Some(i), Some(j)) = (x.as_u64(), y.as_u64()) {
                return i == j;
            }
            x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, a)| y.get(k).is_some_and(|b| same_value(a, b)))
        }
        _ => a == b,
    }
}

/// The event schema shipped with Whistle.
pub const EVENT_SCHEMA: &str = include_str!("../../schemas/event.schema.json");

static VALIDATOR: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(EVENT_SCHEMA).map_err(|e| e.to_string())?;
    compile_schema(&schema)
});

/// Compiles a JSON Schema with format checks on and no network access.
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Why a line is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError(pub String);

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventError {}

/// How deep `attr` may nest (`{"a": 1}` is 1 level). JSON readers stop at
/// 128 levels, and a stored case wraps its event in more: an event taken
/// nearer that limit could be stored and never read back.
pub const MAX_ATTR_DEPTH: usize = 32;

/// Parses and validates one event from JSON text.
pub fn parse_event(text: &str) -> Result<Event, EventError> {
    match crate::strict_event::parse(text) {
        Some(ev) => {
            check_attr_depth(&ev.attr)?;
            Ok(ev)
        }
        // `event_from_value` checks the depth on this path.
        None => parse_validating(text),
    }
}

/// Refuses `attr` nested deeper than [`MAX_ATTR_DEPTH`].
fn check_attr_depth(attr: &Value) -> Result<(), EventError> {
    let depth = depth_of(attr);
    if depth > MAX_ATTR_DEPTH {
        return Err(EventError(format!(
            "`attr` nests {depth} levels deep; at most {MAX_ATTR_DEPTH} are taken"
        )));
    }
    Ok(())
}

/// Levels of arrays and objects in `v` (0 for a plain value).
fn depth_of(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

/// [`parse_event`] through the schema validator alone: what decides, and
/// explains, every line the fast path is not sure of.
pub(crate) fn parse_validating(text: &str) -> Result<Event, EventError> {
    let value = serde_json::from_str::<crate::unique_json::Unique>(text)
        .map_err(|e| json_error(text, &e))?
        .0;
    event_from_value(value)
}

/// The JSON error of one event's text, placed in that text: the column on
/// a one-line event (the caller knows the line), line and column on a
/// longer one, and a value cut short said as such.
fn json_error(text: &str, e: &serde_json::Error) -> EventError {
    let said = e.to_string();
    let what = said
        .rfind(" at line ")
        .map_or(said.as_str(), |i| &said[..i]);
    let one_line = !text.trim_end().contains('\n');
    if e.is_eof() {
        return EventError(
            "not valid JSON: the text ends before the JSON value is complete".into(),
        );
    }
    // The parser's words for text that is not JSON at all ("expected
    // ident") tell an officer nothing: say what an event looks like.
    if let Some(c) = text.trim_start().chars().next()
        && !matches!(c, '{' | '[' | '"' | '-' | '0'..='9')
        && e.classify() == serde_json::error::Category::Syntax
    {
        return EventError(format!(
            "not valid JSON: an event is one JSON object, `{{\"id\": …}}`, and this text starts with `{}`",
            c.escape_debug()
        ));
    }
    let place = if one_line {
        format!(" at column {}", e.column())
    } else {
        format!(" at line {} column {}", e.line(), e.column())
    };
    // A repeated key is well-formed JSON, only ambiguous.
    let prefix = if e.classify() == serde_json::error::Category::Data {
        ""
    } else {
        "not valid JSON: "
    };
    EventError(format!("{prefix}{what}{place}"))
}

/// Validates a JSON value against the event schema and converts it.
pub fn event_from_value(value: Value) -> Result<Event, EventError> {
    let validator = VALIDATOR
        .as_ref()
        .map_err(|e| EventError(format!("event schema: {e}")))?;
    if let Some(kind) = not_an_object(&value) {
        return Err(EventError(kind));
    }
    if !validator.is_valid(&value) {
        return Err(EventError(schema_errors(validator, &value)));
    }
    if let Some(attr) = value.get("attr") {
        check_attr_depth(attr)?;
    }
    // The schema admits any RFC 3339 text; a date-time at the very ends of
    // the calendar (9999-12-31T23:59:59Z) still has no instant.
    // (The parser's own words name its internals: they are left out.)
    if let Some(at) = value.get("reported_at").and_then(Value::as_str)
        && at.parse::<Timestamp>().is_err()
    {
        return Err(EventError(unreadable_time(at)));
    }
    serde_json::from_value(value).map_err(|e| EventError(e.to_string()))
}

/// What to say of a value that is not an object at all: the schema's
/// words ("not of type object") do not say what an event looks like, nor
/// how several are sent.
fn not_an_object(value: &Value) -> Option<String> {
    let what = match value {
        Value::Object(_) => return None,
        Value::Array(_) => {
            return Some(
                "an event is one JSON object, `{\"id\": …}`, not an array: a file of events has one object a line (JSON lines), and the API takes several as `{\"events\": [...]}`".into(),
            );
        }
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "`null`",
    };
    Some(format!(
        "an event is one JSON object, `{{\"id\": …}}`, not {what}"
    ))
}

/// Why an RFC 3339 `reported_at` has no instant: more than nanoseconds,
/// or beyond the range of instants Whistle handles.
fn unreadable_time(at: &str) -> String {
    let fraction = at
        .split_once('.')
        .map_or(0, |(_, f)| f.bytes().take_while(u8::is_ascii_digit).count());
    if fraction > 9 {
        return format!(
            "`reported_at`: \"{at}\" has {fraction} digits after the seconds' point; at most 9 (nanoseconds) are taken"
        );
    }
    format!(
        "`reported_at`: \"{at}\" is outside the instants Whistle handles ({} to {})",
        Timestamp::MIN
            .round(jiff::Unit::Second)
            .unwrap_or(Timestamp::MIN),
        // Rounding the last instant would pass it: its whole seconds.
        Timestamp::from_second(Timestamp::MAX.as_second()).unwrap_or(Timestamp::MAX)
    )
}

/// The schema errors of an invalid value, one per field, each naming the
/// field, joined with `; `.
pub fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> String {
    schema_errors_under(validator, value, None)
}

/// [`schema_errors`] of a value found at `under` in an event (`attr`,
/// checked against a bundle's `event.schema.json`): its fields are named
/// from the event (`attr.people_trapped`, and `attr` for the whole).
pub fn schema_errors_under(
    validator: &jsonschema::Validator,
    value: &Value,
    under: Option<&str>,
) -> String {
    use jsonschema::error::ValidationErrorKind as Kind;
    let mut by_field: Vec<(String, bool, String)> = Vec::new();
    for e in validator.iter_errors(value).take(16) {
        let path = e.instance_path().to_string();
        let dotted = path.trim_start_matches('/').replace('/', ".");
        let field = match (under, dotted.is_empty()) {
            (None, true) => "event".to_string(),
            (None, false) => format!("`{dotted}`"),
            (Some(u), true) => format!("`{u}`"),
            (Some(u), false) => format!("`{u}.{dotted}`"),
        };
        // A regex or a format name says little to a person; say what was expected.
        let (is_form, msg) = match e.kind() {
            Kind::Format { format } if format == "date-time" => (
                true,
                format!(
                    "{} is not an RFC 3339 date-time with an offset, like \"2025-06-03T10:00:00+08:00\"",
                    e.instance()
                ),
            ),
            Kind::Pattern { .. } if path.ends_with("_at") => (
                true,
                format!(
                    "{} is not an RFC 3339 date-time with an offset, like \"2025-06-03T10:00:00+08:00\"",
                    e.instance()
                ),
            ),
            Kind::Pattern { .. } if path == "/id" => (
                false,
                format!(
                    "{} is not an id: it needs some visible text and no control characters (line breaks, tabs)",
                    e.instance()
                ),
            ),
            // The value given and every value allowed: a list of five is
            // short enough to show whole.
            Kind::Enum { options } => (
                false,
                format!(
                    "{} is not one of {}",
                    e.instance(),
                    options
                        .as_array()
                        .map(|o| o
                            .iter()
                            .map(Value::to_string)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_else(|| options.to_string())
                ),
            ),
            _ => (false, e.masked().to_string()),
        };
        match by_field.iter_mut().find(|(f, _, _)| *f == field) {
            Some((_, form, _)) if *form && is_form => {}
            Some(_) => {}
            None => by_field.push((field, is_form, msg)),
        }
    }
    by_field
        .into_iter()
        .map(|(f, _, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_valid_event_parses_with_defaults() {
        let e = parse_event(
            r#"{"id":"E1","category":"fire_lane","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
        )
        .unwrap();
        assert_eq!(e.source, Source::Citizen);
        assert_eq!(e.reported_at.as_second(), 1_748_916_000);
        assert!(e.attr.is_null());
    }

    #[test]
    fn errors_name_the_field() {
        let missing =
            parse_event(r#"{"id":"E1","category":"x","reported_at":"2025-06-03T10:00:00+08:00"}"#);
        assert!(missing.unwrap_err().0.contains("grid"));
        let bad_time =
            parse_event(r#"{"id":"E1","category":"x","grid":"G","reported_at":"yesterday"}"#);
        assert!(bad_time.unwrap_err().0.contains("reported_at"));
        let end_of_time = parse_event(
            r#"{"id":"E1","category":"x","grid":"G","reported_at":"9999-12-31T23:59:59+08:00"}"#,
        );
        assert_eq!(
            end_of_time.unwrap_err().0,
            "`reported_at`: \"9999-12-31T23:59:59+08:00\" is outside the instants Whistle handles (-009999-01-02T01:59:59Z to 9999-12-30T22:00:00Z)"
        );
        let too_fine = parse_event(
            r#"{"id":"E1","category":"x","grid":"G","reported_at":"2026-12-07T00:00:00.1234567890Z"}"#,
        );
        assert_eq!(
            too_fine.unwrap_err().0,
            "`reported_at`: \"2026-12-07T00:00:00.1234567890Z\" has 10 digits after the seconds' point; at most 9 (nanoseconds) are taken"
        );
        let bad_source = parse_event(
            r#"{"id":"E1","category":"x","grid":"G","source":"pigeon","reported_at":"2025-06-03T10:00:00+08:00"}"#,
        );
        assert_eq!(
            bad_source.unwrap_err().0,
            r#"`source`: "pigeon" is not one of "patrol", "citizen", "hotline", "sensor", "department""#
        );
        assert!(
            parse_event("{not json")
                .unwrap_err()
                .0
                .starts_with("not valid JSON")
        );
        // Two values for one key: refused, not settled by keeping the last.
        let twice = parse_event(
            r#"{"id":"E1","id":"E2","category":"x","grid":"G","reported_at":"2025-06-03T10:00:00+08:00"}"#,
        );
        assert_eq!(
            twice.unwrap_err().0,
            "the key `id` is given twice in one object at column 15"
        );
        let attr_twice = parse_event(
            r#"{"id":"E1","category":"x","grid":"G","reported_at":"2025-06-03T10:00:00+08:00","attr":{"n":1,"n":0}}"#,
        );
        assert!(
            attr_twice
                .unwrap_err()
                .0
                .starts_with("the key `n` is given twice")
        );
        // A line cut short is said to be so, with no line number of the
        // parser's own (the trailing newline made it "line 2").
        let cut = parse_event("{\"id\":\"X\",\n").unwrap_err().0;
        assert_eq!(
            cut,
            "not valid JSON: the text ends before the JSON value is complete"
        );
        assert_eq!(
            parse_event("not json").unwrap_err().0,
            "not valid JSON: an event is one JSON object, `{\"id\": …}`, and this text starts with `n`"
        );
        let col = parse_event(r#"{"id": "X", "category": ?}"#).unwrap_err().0;
        assert_eq!(col, "not valid JSON: expected value at column 25");
    }
}

//! The shipped policy checks clean, passes its own tests, and routes the
//! example events into decisions that validate against the decision schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{root, run, shipped, text, walk_all};
use serde_json::Value;

#[test]
fn the_shipped_policy_checks_clean() {
    let out = run(&["check", &shipped()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !text(&out).contains("warning["),
        "no warnings either: {}",
        text(&out)
    );
    // The count names every file of the bundle, as the API lists them.
    let whistle_files = walk_all(&root().join("policies/wuhou"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "whistle"))
        .count();
    assert!(
        text(&out).contains(&format!("ok: {whistle_files} policy files + areas.yaml, ")),
        "{}",
        text(&out)
    );
}

#[test]
fn the_shipped_policy_passes_its_tests() {
    let out = run(&["test", &shipped()], b"");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let summary = t.lines().rev().find(|l| l.contains(" passed, ")).unwrap();
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 10, "{summary}");
    assert!(summary.ends_with(" 0 failed"), "{summary}");
    // The README's tour counts them, and the categories: its numbers must
    // be the bundle's.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        readme.contains(&format!("assessment weights and {passed} tests.")),
        "README.md's tour says another number of tests than {passed}"
    );
    let checked = text(&run(&["check", &shipped()], b""));
    let categories = checked
        .split(" categories")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .unwrap();
    assert!(
        readme.contains(&format!("whole bundle: {categories} event categories")),
        "README.md's tour says another number of categories than {categories}"
    );
}

fn decision_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/decision.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn example_decisions_validate_against_the_decision_schema() {
    let events = std::fs::read(root().join("examples/events.jsonl")).unwrap();
    let n_events = events
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let out = run(&["route", "--policy", &shipped()], &events);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let validator = decision_validator();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n_events);
    for d in &lines {
        let errors: Vec<String> = validator.iter_errors(d).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{d}: {errors:?}");
        assert!(
            !d["trace"].as_array().unwrap().is_empty(),
            "every decision is explained"
        );
    }
    // Something of everything: a fallback, a red, an on-the-spot.
    assert!(lines.iter().any(|d| d["fallback"] == true));
    assert!(lines.iter().any(|d| d["grade"] == "red"));
    assert!(lines.iter().any(|d| d["on_the_spot"] == true));
}

#[test]
fn bad_event_lines_get_error_objects_and_the_rest_are_decided() {
    let events = std::fs::read(root().join("examples/bad-events.jsonl")).unwrap();
    let out = run(&["route", "--policy", &shipped(), "--events", "-"], &events);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let n_input = events
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(lines.len(), n_input, "one output line per input line");
    for (i, l) in lines.iter().enumerate() {
        if let Some(err) = l.get("error") {
            assert_eq!(l["line"], i + 1);
            assert!(!err.as_str().unwrap().is_empty());
        } else {
            assert!(l["event_id"].is_string());
        }
    }
    let errors = lines.iter().filter(|l| l.get("error").is_some()).count();
    assert_eq!(errors, 6, "{lines:?}");
}

#[test]
fn route_refuses_a_broken_policy_with_its_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.whistle"), "levels grid <").unwrap();
    let out = run(
        &["route", "--policy", dir.path().to_str().unwrap()],
        b"{}\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("p.whistle:1:"), "{}", text(&out));
    // The diagnostics' paths are inside the bundle: the bundle is named.
    assert!(
        text(&out).contains(&format!(
            "error: the policy `{}` has errors; no event was routed",
            dir.path().display()
        )),
        "{}",
        text(&out)
    );
}

#[test]
fn route_reads_a_file_and_says_when_it_cannot() {
    let out = run(
        &[
            "route",
            "--policy",
            &shipped(),
            "--events",
            "/nonexistent.jsonl",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot read `/nonexistent.jsonl`"));

    let dir = root().join("examples");
    let dir = dir.to_str().unwrap();
    let out = run(&["route", "--policy", &shipped(), "--events", dir], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains(&format!("cannot read `{dir}`: it is a directory")),
        "{}",
        text(&out)
    );
}

/// A line longer than 1 MiB (a JSON array of every event, a binary file)
/// stops the reading at once, naming the line, after the decisions of the
/// lines before it: not read whole into memory, and never a hang on an
/// endless input.
#[test]
fn a_line_too_long_stops_the_input_after_the_lines_before_it() {
    let lines = std::fs::read_to_string(root().join("examples/events.jsonl")).unwrap();
    let mut events: Vec<u8> = lines.lines().take(3).collect::<Vec<_>>().join("\n").into();
    events.push(b'\n');
    events.extend(std::iter::repeat_n(b'x', (1 << 20) + 10));
    events.extend(b"\n");
    events.extend(lines.lines().next().unwrap().as_bytes());
    let out = run(&["route", "--policy", &shipped()], &events);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    assert!(
        text(&out)
            .contains("line 4 is longer than 1 MiB; a JSON-lines file holds one event per line"),
        "{}",
        text(&out)
    );
}

/// Windows tools start a file with a byte-order mark: the first event is
/// decided like the others; a line cut short is said to be so, at its line.
#[test]
fn a_byte_order_mark_is_skipped_and_a_cut_line_is_named() {
    let mut events = b"\xEF\xBB\xBF".to_vec();
    let lines = std::fs::read_to_string(root().join("examples/events.jsonl")).unwrap();
    for l in lines.lines().take(2) {
        events.extend(l.as_bytes());
        events.push(b'\n');
    }
    events.extend(b"{\"id\":\"X\",\"category\":\"fire_lane\",\n");
    let out = run(&["route", "--policy", &shipped()], &events);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let got: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(got[0]["event_id"].is_string(), "{:?}", got[0]);
    assert!(got[1]["event_id"].is_string(), "{:?}", got[1]);
    assert_eq!(got[2]["line"], 3);
    assert_eq!(
        got[2]["error"],
        "not valid JSON: the text ends before the JSON value is complete"
    );
}

/// The README's example decision quotes a trace line with its place: the
/// place is where the line really is.
#[test]
fn the_readme_trace_example_points_at_the_real_line() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let quoted = readme
        .lines()
        .find(|l| l.contains(r#""trace":[{"what":"grade red when attr.people_trapped > 0""#))
        .expect("the README quotes a trace");
    let start = quoted.find("[{").unwrap() + 1;
    let end = quoted[start..].find('}').unwrap() + start + 1;
    let step: Value = serde_json::from_str(&quoted[start..end]).unwrap();
    let event = br#"{"id":"E1","category":"fire_lane","grid":"G010101","source":"patrol","reported_at":"2026-06-03T10:00:00+08:00","attr":{"people_trapped":1}}"#;
    let out = run(&["route", "--policy", &shipped()], event);
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let real = d["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["what"] == step["what"])
        .expect("the quoted line is in the trace");
    assert_eq!(real, &step);
}

/// The first example of docs/LANGUAGE.md is what a newcomer pastes: it
/// must check clean and be formatted as `fmt` would write it.
#[test]
fn the_language_guide_s_first_example_checks_and_is_formatted() {
    let guide = std::fs::read_to_string(root().join("docs/LANGUAGE.md")).unwrap();
    let from = guide.find("```whistle\n").unwrap() + "```whistle\n".len();
    let to = from + guide[from..].find("```\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.whistle");
    std::fs::write(&file, &guide[from..to]).unwrap();
    let file = file.to_str().unwrap();
    let out = run(&["check", file], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("warning["), "{}", text(&out));
    let out = run(&["fmt", "--check", file], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

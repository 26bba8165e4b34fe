//! `whistle diff`, driven through the built binary.
//!
//! Golden cases: each folder of `diff-golden/` (but `base/`) holds in
//! `new/` the files that, laid over a copy of `diff-golden/base/`, make the
//! changed bundle, and optionally a `remove.txt` naming base files to
//! delete. `expected.txt` is the exit code and the exact text output of
//! `whistle diff base NEW --color never`; `expected.json` the exit code and
//! the semantic changes of `--format json`. `UPDATE_GOLDEN=1` rewrites them
//! (then read the diff before committing).
//!
//! The impact preview is checked against `whistle route`: the events are
//! routed under each policy separately and the decisions compared here,
//! field by field; the counts must be those `--replay` reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::{copy_dir, root, run, shipped, text};
use serde_json::Value;

fn golden() -> PathBuf {
    root().join("tests/diff-golden")
}

/// A copy of the base bundle with a case's `new/` files laid over it.
fn changed_bundle(case: &Path, into: &Path) {
    copy_dir(&golden().join("base"), into);
    if case.join("new").is_dir() {
        copy_dir(&case.join("new"), into);
    }
    if let Ok(list) = std::fs::read_to_string(case.join("remove.txt")) {
        for f in list.lines().filter(|l| !l.trim().is_empty()) {
            std::fs::remove_file(into.join(f.trim())).unwrap();
        }
    }
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<_> = std::fs::read_dir(golden())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("base"))
        .collect();
    cases.sort();
    cases
}

#[test]
fn semantic_diffs_match_the_golden_files() {
    let cases = cases();
    assert!(cases.len() >= 20, "the golden cases are there");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        changed_bundle(&case, &new);
        let new_arg = new.to_str().unwrap();
        // The temporary path is the one thing that changes from run to run.
        let stable = |s: String| s.replace(new_arg, "NEW");

        let out = run(
            &[
                "diff",
                "tests/diff-golden/base",
                new_arg,
                "--color",
                "never",
            ],
            b"",
        );
        let got = stable(format!(
            "exit: {}\n{}",
            out.status.code().unwrap_or(-1),
            text(&out)
        ));
        assert!(!got.contains("panicked"), "{got}");

        let json = run(
            &[
                "diff",
                "tests/diff-golden/base",
                new_arg,
                "--format",
                "json",
            ],
            b"",
        );
        let code = json.status.code().unwrap_or(-1);
        let changes = if code == 2 {
            Value::Null
        } else {
            let v: Value = serde_json::from_slice(&json.stdout).unwrap();
            v["semantic"]["changes"].clone()
        };
        let got_json = stable(
            serde_json::to_string_pretty(&serde_json::json!({"exit": code, "changes": changes}))
                .unwrap()
                + "\n",
        );

        for (file, got) in [("expected.txt", got), ("expected.json", got_json)] {
            let path = case.join(file);
            if update {
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            if expected != got {
                mismatches.push(format!(
                    "== {}\n-- expected\n{expected}\n-- got\n{got}",
                    path.display()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn exit_codes_follow_diff() {
    let base = "tests/diff-golden/base";
    assert_eq!(run(&["diff", base, base], b"").status.code(), Some(0));
    let out = run(&["diff", base, "tests/diff-golden/no-such-bundle"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("error: cannot read `tests/diff-golden/no-such-bundle`"),
        "{}",
        text(&out)
    );
    let out = run(
        &["diff", base, base, "--replay", "no-such-events.jsonl"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot read `no-such-events.jsonl`"));
}

#[test]
fn two_single_files_are_compared_with_each_other() {
    // `policy-old.whistle` kept beside `policy.whistle`: the two files are
    // one bundle each, and their lines are compared whatever their names.
    let dir = tempfile::tempdir().unwrap();
    let body = "policy \"p\" { version \"1\" timezone \"UTC\" }\nlevels grid\ngrades blue\n\
                department a \"A\" { level grid }\ndepartment b \"B\" { level grid }\n\
                grade blue { level grid respond 1h resolve 2h }\nfallback { lead a grade blue }\n";
    let old = dir.path().join("policy-old.whistle");
    let new = dir.path().join("policy.whistle");
    std::fs::write(&old, body).unwrap();
    std::fs::write(&new, body.replace("lead a", "lead b")).unwrap();
    let out = run(&["diff", old.to_str().unwrap(), new.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains("1 file(s) differ, 1 line(s) added, 1 removed"),
        "{shown}"
    );
    assert!(
        shown.contains("--- a/policy-old.whistle\n+++ b/policy.whistle\n"),
        "{shown}"
    );
    assert!(
        shown.contains("-fallback { lead a grade blue }\n+fallback { lead b grade blue }"),
        "{shown}"
    );
    assert!(!shown.contains("/dev/null"), "{shown}");
}

#[test]
fn the_diff_is_coloured_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    changed_bundle(&golden().join("lead-and-limits"), dir.path());
    let new = dir.path().to_str().unwrap();
    let plain = run(&["diff", "tests/diff-golden/base", new], b"");
    assert!(!text(&plain).contains('\x1b'), "a pipe gets no colour");
    let colored = run(
        &["diff", "tests/diff-golden/base", new, "--color", "always"],
        b"",
    );
    let out = String::from_utf8(colored.stdout).unwrap();
    assert!(out.contains("\x1b[31m-  lead   urban\x1b[0m"), "{out}");
    assert!(out.contains("\x1b[32m+  lead   fire\x1b[0m"), "{out}");
}

/// The shipped policy with `fire_lane` led by `fire` and red events given
/// 48 hours instead of 72.
fn changed_shipped(into: &Path) {
    copy_dir(&root().join("policies/wuhou"), into);
    let edit = |file: &str, from: &str, to: &str| {
        let p = into.join(file);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from));
        std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
    };
    edit("categories/safety.whistle", "lead   urban", "lead   fire");
    edit("policy.whistle", "resolve 72h", "resolve 48h");
}

fn route(policy: &str, events: &str) -> Vec<Value> {
    let out = run(&["route", "--policy", policy, "--events", events], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn replay_counts_agree_with_route_under_each_policy() {
    let dir = tempfile::tempdir().unwrap();
    changed_shipped(dir.path());
    let new = dir.path().to_str().unwrap();
    let events = "examples/events.jsonl";
    let (a, b) = (route(&shipped(), events), route(new, events));
    assert_eq!(a.len(), b.len());
    let assist = |d: &Value| {
        let mut v: Vec<String> = d["assist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let fields = [
        "grade",
        "lead",
        "level",
        "unit",
        "on_the_spot",
        "fallback",
        "respond_by",
        "resolve_by",
    ];
    let mut expected = serde_json::Map::new();
    let mut changed = 0;
    for f in fields.iter().chain(&["assist"]) {
        expected.insert(f.to_string(), Value::from(0));
    }
    for (x, y) in a.iter().zip(&b) {
        let mut any = false;
        for f in fields {
            if x[f] != y[f] {
                any = true;
                let n = expected[f].as_u64().unwrap() + 1;
                expected.insert(f.to_string(), n.into());
            }
        }
        if assist(x) != assist(y) {
            any = true;
            let n = expected["assist"].as_u64().unwrap() + 1;
            expected.insert("assist".into(), n.into());
        }
        changed += u64::from(any);
    }
    assert!(changed > 0, "the change shows in the example events");

    let old = shipped();
    let replay = |extra: &[&str]| {
        let mut args = vec!["diff", old.as_str(), new, "--replay", events];
        args.extend(extra);
        run(&args, b"")
    };
    let out = replay(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let impact = &v["impact"];
    assert_eq!(impact["events"], a.len() as u64);
    assert_eq!(impact["changed"], changed);
    assert_eq!(impact["changes"], Value::Object(expected));
    assert_eq!(v["replay"]["bad_lines"], 0);
    let words: Vec<&str> = v["semantic"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(words, ["red", "fire_lane"]);

    // The text report names the same numbers.
    let t = text(&replay(&[]));
    assert!(t.contains("  red: resolve 72h → 48h\n"), "{t}");
    assert!(t.contains("  fire_lane: lead urban → fire\n"), "{t}");
    let summary = format!(
        "{} events decided under both policies; {changed} (",
        a.len()
    );
    assert!(t.contains(&summary), "{t}");
    assert!(t.contains("deadline load by department"), "{t}");
    assert!(t.contains("\nexamples\n"), "{t}");
    // None asked for: no heading over nothing.
    let t = text(&replay(&["--examples", "0"]));
    assert!(!t.contains("\nexamples\n"), "{t}");
    assert!(t.contains("deadline load by department"), "{t}");
}

#[test]
fn bad_event_lines_are_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    changed_shipped(&dir.path().join("new"));
    let good = std::fs::read_to_string(root().join("examples/events.jsonl")).unwrap();
    let good: Vec<&str> = good.lines().take(10).collect();
    let mut lines: Vec<String> = good.iter().map(|l| l.to_string()).collect();
    lines.insert(2, "{not json".into());
    lines.insert(5, String::new());
    lines.insert(7, r#"{"id":"X","category":"fire_lane"}"#.into());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    let new = dir.path().join("new");
    let args = [
        "diff",
        &shipped(),
        new.to_str().unwrap(),
        "--replay",
        events.to_str().unwrap(),
    ];
    let out = run(&args, b"");
    assert_eq!(out.status.code(), Some(1), "bad lines do not abort");
    let err = String::from_utf8(out.stderr).unwrap();
    let file = events.display();
    assert!(
        err.contains(&format!("warning: {file}:3: not valid JSON")),
        "{err}"
    );
    assert!(err.contains(&format!("warning: {file}:8: ")), "{err}");
    assert!(
        err.contains("grid"),
        "the schema error names the field: {err}"
    );
    assert!(err.contains("warning: 2 bad line(s)"), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("(13 line(s), 10 event(s), 2 bad line(s) skipped)"),
        "{stdout}"
    );

    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let out = run(&json_args, b"");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["replay"]["lines"], 13);
    assert_eq!(v["replay"]["events"], 10);
    assert_eq!(v["replay"]["bad_lines"], 2);
    assert_eq!(v["replay"]["bad"][0]["line"], 3);
    assert_eq!(v["replay"]["bad"][1]["line"], 8);
    assert_eq!(v["impact"]["events"], 10);
}

#[test]
fn events_can_come_from_standard_input() {
    let events = std::fs::read(root().join("examples/events.jsonl")).unwrap();
    let out = run(
        &[
            "diff",
            &shipped(),
            &shipped(),
            "--replay",
            "-",
            "--format",
            "json",
        ],
        &events,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["differences"], false);
    assert_eq!(v["impact"]["events"], 40);
    assert_eq!(v["impact"]["changed"], 0);
}

/// `--format json` answers a failure in JSON too: a tool reading standard
/// output gets what went wrong, by bundle, with the diagnostics as data.
#[test]
fn a_failure_in_json_is_json() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken.whistle");
    std::fs::write(&broken, "policy \"x\" {\n").unwrap();
    let missing = tmp.path().join("missing");
    let out = run(
        &[
            "diff",
            &missing.display().to_string(),
            &broken.display().to_string(),
            "--format",
            "json",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{v}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read"),
        "{v}"
    );
    assert_eq!(errors[1]["diagnostics"][0]["severity"], "error", "{v}");
    // The text still goes to standard error for a person.
    assert!(
        text(&out).contains("has errors; nothing was compared"),
        "{}",
        text(&out)
    );
    // An events file that cannot be read is named, as a bundle is.
    let base = "tests/diff-golden/base";
    let replayed = run(
        &[
            "diff",
            base,
            base,
            "--replay",
            "no-such-events.jsonl",
            "--format",
            "json",
        ],
        b"",
    );
    let v: Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(v["errors"][0]["path"], "no-such-events.jsonl", "{v}");
}

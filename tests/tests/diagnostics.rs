//! Golden tests of `whistle check` diagnostics: each folder of `golden/`
//! holds the files that, added to `golden/base.whistle`, make a broken
//! bundle; `expected.txt` is the exit code and the exact output.
//! `UPDATE_GOLDEN=1` rewrites them (then read the diff before committing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{root, run, text};

#[test]
fn check_diagnostics_match_the_golden_files() {
    let golden = root().join("tests/golden");
    let mut cases: Vec<_> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "the golden cases are there");
    let mut mismatches = Vec::new();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(golden.join("base.whistle"), dir.path().join("base.whistle")).unwrap();
        for f in std::fs::read_dir(&case).unwrap() {
            let f = f.unwrap().path();
            if f.file_name().unwrap() != "expected.txt" {
                std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
            }
        }
        let out = run(&["check", dir.path().to_str().unwrap()], b"");
        let got = format!("exit: {}\n{}", out.status.code().unwrap_or(-1), text(&out));
        assert!(!got.contains("panicked"));
        let expected_path = case.join("expected.txt");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != got {
            mismatches.push(format!(
                "== {}\n-- expected\n{expected}\n-- got\n{got}",
                case.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn json_diagnostics_carry_file_line_col_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let golden = root().join("tests/golden");
    std::fs::copy(golden.join("base.whistle"), dir.path().join("base.whistle")).unwrap();
    std::fs::copy(
        golden.join("relief-conflict/categories.whistle"),
        dir.path().join("categories.whistle"),
    )
    .unwrap();
    let out = run(
        &["check", dir.path().to_str().unwrap(), "--format", "json"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let diags = v["diagnostics"].as_array().unwrap();
    let relief: Vec<_> = diags.iter().filter(|d| d["code"] == "E0301").collect();
    assert_eq!(relief.len(), 3, "{diags:?}");
    assert_eq!(relief[0]["file"], "categories.whistle");
    assert_eq!(relief[0]["line"], 3);
    assert_eq!(relief[0]["labels"][0]["line"], 18);
    assert_eq!(relief[0]["labels"][0]["col"], 10);
}

/// A header file emptied by mistake: the bundle lacks its `policy`,
/// `levels`, `grades` and `fallback` lines, and says so once each instead
/// of calling every level and grade named elsewhere unknown (248 errors).
#[test]
fn an_emptied_header_is_four_errors_not_hundreds() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("policies/wuhou"), dir.path());
    std::fs::write(dir.path().join("policy.whistle"), "").unwrap();
    let out = run(&["check", dir.path().to_str().unwrap()], b"");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let codes: Vec<&str> = t
        .lines()
        .filter_map(|l| l.split_once(": error[").map(|(_, r)| &r[..5]))
        .collect();
    assert_eq!(codes, ["E0103"; 4], "{t}");
    for what in [
        "`policy` header",
        "`levels` line",
        "`grades` line",
        "`fallback` block",
    ] {
        assert!(
            t.contains(&format!("the bundle has no {what}")),
            "{what}: {t}"
        );
    }
}

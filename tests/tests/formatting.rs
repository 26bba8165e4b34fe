//! `whistle fmt` never changes meaning: a formatted bundle decides every
//! event exactly as before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{copy_dir, root, run, shipped, text, walk_all};
use serde_json::Value;

fn decisions(bundle: &str, events: &[u8]) -> Vec<Value> {
    let out = run(&["route", "--policy", bundle], events);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            // The hash names the text, which formatting changes on purpose.
            v["policy"]["hash"] = Value::Null;
            // Trace positions move with the layout; what each line did does not.
            for t in v["trace"].as_array_mut().into_iter().flatten() {
                t["line"] = Value::Null;
                t["col"] = Value::Null;
            }
            v
        })
        .collect()
}

#[test]
fn the_shipped_policy_is_formatted() {
    let out = run(&["fmt", &shipped(), "--check"], b"");
    assert_eq!(
        out.status.code(),
        Some(0),
        "unformatted files: {}",
        text(&out)
    );
}

#[test]
fn a_mangled_then_formatted_policy_decides_exactly_as_before() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("policies/wuhou"), dir.path());
    // Mangle the layout: squeeze indentation, add blank lines.
    for e in walk(dir.path()) {
        let t = std::fs::read_to_string(&e).unwrap();
        let mangled: String = t
            .lines()
            .map(|l| format!("{}\n\n", l.trim_start()))
            .collect();
        std::fs::write(&e, mangled).unwrap();
    }
    let bundle = dir.path().to_str().unwrap();
    let check = run(&["fmt", bundle, "--check"], b"");
    assert_eq!(check.status.code(), Some(1), "mangled files are reported");
    let fmt = run(&["fmt", bundle], b"");
    assert_eq!(fmt.status.code(), Some(0), "{}", text(&fmt));
    assert_eq!(
        run(&["fmt", bundle, "--check"], b"").status.code(),
        Some(0),
        "idempotent"
    );
    let events = std::fs::read(root().join("examples/events.jsonl")).unwrap();
    let before = decisions(&shipped(), &events);
    let after = decisions(bundle, &events);
    assert!(!before.is_empty());
    assert_eq!(before, after);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walk_all(dir)
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "whistle"))
        .collect()
}

/// A file `check` refuses (not UTF-8, too large) is refused by `fmt` in
/// the same words, and left as it was.
#[test]
fn fmt_refuses_what_check_refuses_in_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.whistle");
    std::fs::write(&junk, b"le\xffvels grid").unwrap();
    let big = dir.path().join("big.whistle");
    let filler = "# filler\n".repeat(9 * 1024 * 1024 / 9 + 1);
    std::fs::write(&big, &filler).unwrap();
    let out = run(&["fmt", dir.path().to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("{}:1:3: error[E0002]", junk.display())),
        "{said}"
    );
    assert!(said.contains("is larger than 8 MiB"), "{said}");
    assert_eq!(std::fs::read(&junk).unwrap(), b"le\xffvels grid");
    assert_eq!(std::fs::read_to_string(&big).unwrap(), filler);
    let check = text(&run(&["check", dir.path().to_str().unwrap()], b""));
    assert!(check.contains("junk.whistle:1:3: error[E0002]"), "{check}");
    assert!(check.contains("is larger than 8 MiB"), "{check}");
}

/// `whistle fmt` run by someone other than root (`nobody`, through
/// `setpriv`, when the tests run as root): a file it may not write is
/// refused and left as it is, though the directory would let a rename
/// replace it; another user's file it may write is written where it is,
/// and stays theirs (the server reading the bundle as its owner keeps
/// its access).
#[cfg(unix)]
#[test]
fn fmt_leaves_a_read_only_file_and_another_users_file_stays_theirs() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    copy_dir(&root().join("policies/wuhou"), &bundle);
    let mangle = |p: &std::path::Path| {
        let t = std::fs::read_to_string(p).unwrap();
        let m: String = t
            .lines()
            .map(|l| format!("{}\n\n", l.trim_start()))
            .collect();
        std::fs::write(p, &m).unwrap();
        m
    };
    let read_only = bundle.join("departments.whistle");
    let theirs = bundle.join("escalation.whistle");
    let frozen = mangle(&read_only);
    let mangled = mangle(&theirs);
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o444)).unwrap();
    let as_root = std::fs::metadata(&read_only).unwrap().uid() == 0;
    let mut cmd = if as_root {
        // Everything is nobody's but `theirs`, another user's that anyone
        // may write; the binary is copied where nobody may run it.
        let (nobody, other) = (65534, 65533);
        let exe = dir.path().join("whistle");
        std::fs::copy(common::whistle(), &exe).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for p in std::iter::once(bundle.clone()).chain(walk_all(&bundle)) {
            chown(&p, Some(nobody), Some(nobody)).unwrap();
        }
        chown(&theirs, Some(other), Some(other)).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(exe);
        c
    } else {
        std::process::Command::new(common::whistle())
    };
    let out = cmd
        .arg("fmt")
        .arg(&bundle)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("departments.whistle"), "{said}");
    assert!(said.to_lowercase().contains("permission denied"), "{said}");
    assert_eq!(std::fs::read_to_string(&read_only).unwrap(), frozen);
    if as_root {
        let meta = std::fs::metadata(&theirs).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65533, 65533));
        assert_eq!(meta.permissions().mode() & 0o777, 0o666);
        let now = std::fs::read_to_string(&theirs).unwrap();
        assert_ne!(now, mangled, "formatted");
        assert!(now.starts_with("#"), "{now}");
    }
}

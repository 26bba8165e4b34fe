//! Any bytes as a policy file give diagnostics and exit code 1: never a
//! panic, never a hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{run, text};

fn check_bytes(bytes: &[u8]) -> (Option<i32>, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.whistle"), bytes).unwrap();
    let t = Instant::now();
    let out = run(&["check", dir.path().to_str().unwrap()], b"");
    (out.status.code(), text(&out), t.elapsed())
}

#[test]
fn binary_and_invalid_utf8_are_diagnostics() {
    let (code, out, _) = check_bytes(&[0x7f, b'E', b'L', b'F', 0, 0, 0xff, 0xfe, 1, 2]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("p.whistle:1:") && out.contains("error[E0002]"),
        "{out}"
    );
    let mut bytes = "levels grid < 社区".as_bytes().to_vec();
    bytes.push(0xff);
    let (code, out, _) = check_bytes(&bytes);
    assert_eq!(code, Some(1));
    assert!(out.contains("not valid UTF-8"), "{out}");
}

#[test]
fn a_50_mb_file_is_refused_quickly() {
    let big = "# filler\n".repeat(50 * 1024 * 1024 / 9);
    let (code, out, took) = check_bytes(big.as_bytes());
    assert_eq!(code, Some(1));
    assert!(out.contains("larger than"), "{out}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_stack_overflow() {
    let deep = format!(
        "category c {{ lead a grade b when {}x == 1{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let (code, out, _) = check_bytes(deep.as_bytes());
    assert_eq!(code, Some(1));
    assert!(out.contains("nested deeper"), "{out}");
    // `not` nests as a bracket does, without a bracket to count.
    let nots = format!(
        "category c {{ lead a grade b when {}x == 1 }}",
        "not ".repeat(20_000)
    );
    let (code, out, _) = check_bytes(nots.as_bytes());
    assert_eq!(code, Some(1));
    assert!(
        out.contains("p.whistle:1:34: error[E0002]: `not` repeated 20000 times"),
        "{out}"
    );
    let json = format!(
        "test \"t\" {{ event {}{} }}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    );
    let (code, out, _) = check_bytes(json.as_bytes());
    assert_eq!(code, Some(1));
    assert!(!out.contains("panicked"), "{out}");
}

#[test]
fn garbage_text_gets_located_syntax_errors() {
    let (code, out, _) = check_bytes(b"category { lead\n}}}} ((( \"unterminated\n");
    assert_eq!(code, Some(1));
    assert!(out.contains("p.whistle:1:10: error[E0001]"), "{out}");
}

/// A server asked to start on a broken bundle, with no earlier version
/// stored, prints the diagnostics as `check` does (not `error: ...
/// error[E0001]`) and says in its last line that it did not start.
#[test]
fn a_server_on_a_broken_bundle_with_nothing_stored_says_it_did_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(bundle.join("p.whistle"), "category x {\n  leed urban\n}\n").unwrap();
    let out = run(
        &[
            "serve",
            "--policy",
            bundle.to_str().unwrap(),
            "--data",
            dir.path().join("data").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("\np.whistle:2:3: error[E0001]"), "{said}");
    assert!(!said.contains("error: p.whistle"), "{said}");
    assert!(
        said.trim_end().ends_with(
            "has errors, and no earlier version is stored to start on: the server did not start"
        ),
        "{said}"
    );
    assert!(!dir.path().join("data").exists(), "no store was made");
}

#[test]
fn a_missing_bundle_is_a_clear_error() {
    let out = run(&["check", "/nonexistent/bundle"], b"");
    // Not "the policy has errors" (1): there is no policy to check.
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("cannot read `/nonexistent/bundle`"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_file_that_is_not_policy_is_named_not_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.md");
    std::fs::write(&notes, "# Meeting notes\n").unwrap();
    let notes = notes.to_str().unwrap();
    for args in [vec!["check", notes], vec!["fmt", notes]] {
        let out = run(&args, b"");
        let said = text(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {said}");
        assert!(
            said.contains("notes.md` is not a policy file"),
            "{args:?}: {said}"
        );
        assert!(!said.contains("error[E0"), "{args:?} parsed it: {said}");
    }
    // Nothing to format is said, not passed over in silence.
    let out = run(&["fmt", dir.path().to_str().unwrap(), "--check"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("holds no `.whistle` file"),
        "{}",
        text(&out)
    );
}

/// A reader that stops early (`whistle test | head -1`, `2>&1 | head`)
/// closes the pipe: the command still ends with its own exit code, not
/// a panic's 101; `token`, whose output is all it makes, fails.
#[test]
fn a_closed_output_is_no_panic() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.whistle"), "levels grid <").unwrap();
    for (args, code) in [
        (vec!["test", "policies/wuhou"], 0),
        (vec!["check", dir.path().to_str().unwrap()], 1),
        (vec!["check", "policies/wuhou", "--format", "json"], 0),
        // A token is shown once: one nobody could read is a failure.
        (vec!["token", "--name", "chen", "--role", "viewer"], 2),
    ] {
        // Pipes whose read ends are closed before the command starts:
        // every write to them fails, whatever the timing.
        let (out_read, out_write) = std::io::pipe().unwrap();
        let (err_read, err_write) = std::io::pipe().unwrap();
        drop((out_read, err_read));
        let status = Command::new(common::whistle())
            .args(&args)
            .current_dir(common::root())
            .stdin(Stdio::null())
            .stdout(out_write)
            .stderr(err_write)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}");
    }
}

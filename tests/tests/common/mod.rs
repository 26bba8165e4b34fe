//! Finding and running the built `whistle` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod drafts;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Checks `value` against the schema `component` of the API description
/// the server serves (`server/openapi.json`), references resolved within
/// it; panics naming every place the value does not fit. Each component's
/// validator is compiled once per test binary.
pub fn check_api_schema(component: &str, value: &serde_json::Value) {
    type Validators =
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<jsonschema::Validator>>>;
    static VALIDATORS: OnceLock<Validators> = OnceLock::new();
    let validator = {
        let mut cache = VALIDATORS.get_or_init(Validators::default).lock().unwrap();
        let v = cache.entry(component.to_string()).or_insert_with(|| {
            let text = std::fs::read_to_string(root().join("server/openapi.json")).unwrap();
            let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            // The whole description is the root resource, so that
            // `#/components/…` resolves; the keywords of OpenAPI itself are
            // not JSON Schema's and are ignored.
            doc["$ref"] = format!("#/components/schemas/{component}").into();
            std::sync::Arc::new(
                jsonschema::draft202012::new(&doc).unwrap_or_else(|e| panic!("{component}: {e}")),
            )
        });
        std::sync::Arc::clone(v)
    };
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{component}: {errors:#?}\n{value:#}");
}

/// The `whistle` binary: `$WHISTLE`, else the one `cargo test --workspace`
/// built next to this test, else one built here into a separate target
/// directory (so as not to wait on the outer cargo's lock).
pub fn whistle() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("WHISTLE") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let sibling = profile_dir.join(format!("whistle{}", std::env::consts::EXE_SUFFIX));
        if sibling.exists() {
            return sibling;
        }
        let target = root().join("target").join("whistle-tests-bin");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "whistle-server",
                "--bin",
                "whistle",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building whistle failed");
        target
            .join("debug")
            .join(format!("whistle{}", std::env::consts::EXE_SUFFIX))
    })
}

/// Runs `whistle ARGS` with `stdin` and returns its output.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = started(args, Stdio::piped());
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// `whistle ARGS` started from the project root, its output captured.
fn started(args: &[&str], stdin: Stdio) -> std::process::Child {
    Command::new(whistle())
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("whistle starts")
}

/// [`run`] for a command expected to exit by itself (a server refused at
/// start): if it is still running after `limit`, it is killed and the test
/// fails, instead of waiting for it for ever.
pub fn run_within(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = started(args, Stdio::null());
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`whistle {}` still ran after {limit:?}: {}",
                args.join(" "),
                text(&out)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// stdout and stderr together, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The shipped policy bundle.
pub fn shipped() -> String {
    root().join("policies/wuhou").display().to_string()
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Every file and directory under `dir`.
pub fn walk_all(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_all(&p));
        }
        out.push(p);
    }
    out
}

/// The SHA-256 of a bearer token, as `[[tokens]] sha256` wants it.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

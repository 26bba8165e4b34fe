//! The binary starts and describes itself. (Having an integration test here
//! also makes `cargo test --workspace` build the `whistle` binary that the
//! end-to-end tests in `tests/` drive.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn whistle_prints_its_version_and_its_commands() {
    let bin = env!("CARGO_BIN_EXE_whistle");
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| e.to_string());
    let out = out.unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("whistle "));
    let help = Command::new(bin)
        .arg("--help")
        .output()
        .map_err(|e| e.to_string());
    let help = String::from_utf8_lossy(&help.unwrap_or_else(|e| panic!("{e}")).stdout).into_owned();
    for cmd in ["check", "fmt", "test", "route"] {
        assert!(help.contains(cmd), "{help}");
    }
}

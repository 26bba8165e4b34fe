//! `whistle test BUNDLE`

use std::path::PathBuf;

use clap::Args;
use whistle_engine::testing::run_tests;

use super::{FAILED, OK};

/// Arguments of `whistle test`.
#[derive(Args)]
pub struct TestArgs {
    /// The bundle directory.
    pub bundle: PathBuf,
}

/// Runs the tests; prints `N passed, M failed`; exit 1 on any failure.
pub fn run(a: &TestArgs) -> u8 {
    let c = match super::load_valid(&a.bundle, "no test was run", FAILED) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(policy) = &c.policy else {
        return FAILED;
    };
    let results = run_tests(policy, &c.tests);
    let mut failed = 0;
    for r in &results {
        if r.passed() {
            put!("ok    {}", r.name);
        } else {
            failed += 1;
            put!("FAIL  {}  ({})", r.name, r.location);
            for f in &r.failures {
                put!("      {f}");
            }
        }
    }
    put!("{} passed, {failed} failed", results.len() - failed);
    if failed == 0 { OK } else { FAILED }
}

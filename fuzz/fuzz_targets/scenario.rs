//! Any bytes as a simulation scenario: parsing, validating, planning and
//! a short run (scaled to at most a few hundred events) must never panic
//! or hang. Run with `cargo +nightly fuzz run scenario` (see docs/TESTING.md).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use whistle_engine::model::Policy;
use whistle_engine::sim::{self, Options, Role};
use whistle_grammar::bundle::load;

/// The shipped district's policy, with its area tree: the example
/// scenarios (the seeds) name its categories, departments and levels, so
/// mutations of them get through validation and into a run.
fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
        match load(&root).map(|b| whistle_engine::compile(&b).policy) {
            Ok(Some(p)) => p,
            _ => std::process::abort(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = sim::parse(text) else {
        return;
    };
    let p = policy();
    let options = Options {
        seed: Some(1),
        events: Some(300.0),
    };
    let mut no_files = |_: &str| Err::<String, String>("no files here".into());
    let Ok(plan) = sim::plan(&scenario, p, options, &mut no_files) else {
        return;
    };
    let p = sim::with_areas(&plan, p);
    let Ok(staff) = sim::staff(&plan, &p, Role::Draft) else {
        return;
    };
    let run = sim::run_synthetic(&p, &plan, &staff, Role::Draft, &mut |_| {});
    let report = sim::Report::new(&plan, run, None);
    let _ = report.to_json();
    let _ = sim::report::html::page(&report);
});

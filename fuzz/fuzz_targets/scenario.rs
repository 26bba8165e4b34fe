//! Any bytes as a simulation scenario: parsing, validating, planning and
//! a short run (scaled to at most a few hundred events) must never panic
//! or hang. Run with `cargo +nightly fuzz run scenario` (see docs/TESTING.md).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use whistle_engine::model::Policy;
use whistle_engine::sim::{self, Options, Role};
use whistle_grammar::bundle::{BundleFile, from_files};

/// A small policy with levels, an area-free fallback, a ladder and a
/// threshold, so that every part of a run has something to do.
const POLICY: &str = r#"
policy "fuzz" { version "1" timezone "Asia/Shanghai" calendar office }
calendar office { week mon..fri 09:00-12:00, 13:30-18:00 }
levels grid < community < street < district
grades blue < yellow < red
grade blue   { level grid      respond 2h  resolve 24h }
grade yellow { level community respond 1h  resolve 48h working }
grade red    { level street    respond 30m resolve 72h }
department d "d" { level grid }
department s "s" { level street }
category work { lead d assist s grade red when attr.n > 3 grade blue }
fallback { lead s grade yellow }
escalate { at 50% respond -> raise 1, whistle s }
threshold busy "busy" { metric overdue_rate by department over 7d when > 10% alert district }
"#;

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| {
        let b = from_files(vec![BundleFile {
            path: "policy.whistle".into(),
            bytes: POLICY.as_bytes().to_vec(),
        }]);
        match whistle_engine::compile(&b).policy {
            Some(p) => p,
            None => std::process::abort(),
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

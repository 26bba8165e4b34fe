//! Simulating (the speed target of the simulation issue): one policy's run
//! over the shipped year's scenario (`examples/scenarios/wuhou-2026.yaml`,
//! `policies/wuhou`) on a generated tree of 3,200 grids, scaled to 200,000
//! events — arrivals, decide, lifecycle, queues, threshold monitor,
//! assessment and the run report all included. The same run without the
//! policy's threshold warnings is the peer that shows the monitor's share.
//!
//! `cargo bench -p whistle-engine --bench sim`
//!
//! End to end (both policies on two threads, files written) is measured
//! with the binary; see docs/BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::LazyLock;

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use whistle_engine::sim::{self, Options, Plan, Role, Staffing};
use whistle_engine::{Policy, compile};

/// Events per measured run.
const EVENTS: f64 = 200_000.0;

struct Fixture {
    plan: Plan,
    with_warnings: (Policy, Staffing),
    without_warnings: (Policy, Staffing),
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let bundle = whistle_grammar::bundle::load(&root().join("policies/wuhou")).unwrap();
    let policy = compile(&bundle).policy.unwrap();
    let mut quiet = policy.clone();
    quiet.thresholds.clear();
    let yaml = std::fs::read_to_string(root().join("examples/scenarios/wuhou-2026.yaml"))
        .unwrap()
        .replace(
            "areas: policy",
            "areas: {generate: {streets: 40, communities: 8, grids: 10}}",
        );
    let scenario = sim::parse(&yaml).unwrap();
    let options = Options {
        seed: Some(1),
        events: Some(EVENTS),
    };
    let plan = sim::plan(&scenario, &policy, options, &mut |f: &str| {
        Err(f.to_string())
    })
    .unwrap();
    let staffed = |p: &Policy| {
        let p = sim::with_areas(&plan, p);
        let s = sim::staff(&plan, &p, Role::Draft).unwrap();
        (p, s)
    };
    Fixture {
        with_warnings: staffed(&policy),
        without_warnings: staffed(&quiet),
        plan,
    }
});

fn main() {
    LazyLock::force(&FIXTURE);
    divan::main();
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn year_one_policy(b: Bencher) {
    let f = &*FIXTURE;
    let (p, s) = &f.with_warnings;
    b.counter(ItemsCount::new(EVENTS as usize)).bench(|| {
        let r = sim::run_synthetic(p, &f.plan, s, Role::Draft, &mut |_| {});
        black_box(r.totals.events)
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn year_one_policy_no_thresholds(b: Bencher) {
    let f = &*FIXTURE;
    let (p, s) = &f.without_warnings;
    b.counter(ItemsCount::new(EVENTS as usize)).bench(|| {
        let r = sim::run_synthetic(p, &f.plan, s, Role::Draft, &mut |_| {});
        black_box(r.totals.events)
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn arrivals_only(b: Bencher) {
    let f = &*FIXTURE;
    let a = f.plan.arrivals.as_ref().unwrap();
    b.counter(ItemsCount::new(EVENTS as usize)).bench(|| {
        let n = sim::Generator::new(a, &f.plan.tz, f.plan.start, f.plan.end, 1).count();
        black_box(n)
    });
}

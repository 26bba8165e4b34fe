//! The impact preview (issue 4, item 4): the same events decided under two
//! policies, each with its own `repeats` history, and the decisions
//! compared. Target: 1,000,000 events in under 10 s on this 2-core machine,
//! end to end (`whistle diff --replay`, measured with hyperfine, see
//! docs/BENCHMARKS.md); this bench measures the engine part alone.
//!
//! Policies: the shipped `policies/wuhou` and a copy with three changes
//! that touch most events — `fire_lane` led by `fire`, blue resolve
//! 24h → 12h, red resolve 72h → 48h. Events: 100,000 from `whistle-gen`
//! for that bundle (seed 7, the generator of the 1M-line file).
//!
//! `cargo bench -p whistle-engine --bench replay`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../tools/whistle-gen/src/lib.rs"]
mod whistle_gen;

use std::path::Path;
use std::sync::LazyLock;

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use rayon::prelude::*;
use whistle_engine::diff::{ImpactOptions, impact};
use whistle_engine::event::{Event, parse_event};
use whistle_engine::router::Router;
use whistle_engine::{Policy, compile};
use whistle_gen::{EventGen, START_2026_CST, scan_bundle};
use whistle_grammar::bundle::{BundleFile, from_files, read_dir};

/// Events replayed per sample.
const EVENTS: usize = 100_000;

struct Fixture {
    old: Policy,
    new: Policy,
    lines: Vec<String>,
    events: Vec<Event>,
}

fn replace(files: &mut [BundleFile], path: &str, from: &str, to: &str) {
    let f = files.iter_mut().find(|f| f.path == path).unwrap();
    let text = String::from_utf8(f.bytes.clone()).unwrap();
    assert!(text.contains(from), "{path} has no `{from}`");
    f.bytes = text.replacen(from, to, 1).into_bytes();
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
    let files = read_dir(&dir).unwrap();
    let mut changed = files.clone();
    replace(
        &mut changed,
        "categories/safety.whistle",
        "lead   urban",
        "lead   fire",
    );
    replace(&mut changed, "policy.whistle", "resolve 24h", "resolve 12h");
    replace(&mut changed, "policy.whistle", "resolve 72h", "resolve 48h");
    let old = compile(&from_files(files)).policy.unwrap();
    let new = compile(&from_files(changed)).policy.unwrap();
    let (cats, grids) = scan_bundle(&dir).unwrap();
    let mut g = EventGen::new(7, cats, grids, START_2026_CST, 32, 10);
    let lines = g.lines(EVENTS);
    let events = lines.iter().map(|l| parse_event(l).unwrap()).collect();
    Fixture {
        old,
        new,
        lines,
        events,
    }
});

fn main() {
    let f = &*FIXTURE;
    let i = impact(&f.old, &f.new, &f.events, &ImpactOptions::default());
    eprintln!(
        "{} events: {} decided differently (grade {}, lead {}, respond_by {}, resolve_by {}), {} categories",
        i.events,
        i.changed,
        i.changes.grade,
        i.changes.lead,
        i.changes.respond_by,
        i.changes.resolve_by,
        i.categories.len()
    );
    divan::main();
}

/// The whole preview: both policies decide (in parallel), then compare and sum up.
#[divan::bench(sample_count = 20)]
fn impact_100k(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(ItemsCount::new(f.events.len()))
        .bench(|| black_box(impact(&f.old, &f.new, &f.events, &ImpactOptions::default())));
}

/// The same on one thread: what the parallel decide buys.
#[divan::bench(sample_count = 20)]
fn impact_100k_one_thread(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    b.counter(ItemsCount::new(f.events.len())).bench(|| {
        pool.install(|| black_box(impact(&f.old, &f.new, &f.events, &ImpactOptions::default())))
    });
}

/// One policy deciding the events in order (what each side of the preview does).
#[divan::bench(sample_count = 20)]
fn decide_one_policy_100k(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(ItemsCount::new(f.events.len())).bench(|| {
        let mut r = Router::new(&f.old);
        for e in &f.events {
            black_box(r.decide(e));
        }
    });
}

/// Parsing the JSON lines on every core, as `whistle diff --replay` does.
#[divan::bench(sample_count = 20)]
fn parse_100k_parallel(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(ItemsCount::new(f.lines.len())).bench(|| {
        let v: Vec<_> = f.lines.par_iter().map(|l| parse_event(l)).collect();
        black_box(v)
    });
}

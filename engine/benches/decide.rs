//! Deciding events (target 1 of docs/BENCHMARKS.md): `whistle_engine::decide`
//! on a generated 200-category / 30-department policy, trace included, with
//! a `RepeatIndex` history of 200,000 earlier events; and, separately, the
//! JSON output of a decision.
//!
//! `cargo bench -p whistle-engine --bench decide`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../tools/whistle-gen/src/lib.rs"]
mod whistle_gen;

use std::sync::LazyLock;

// The `whistle` binary (route, serve, simulate) runs on mimalloc, so its
// decisions are measured with it: allocation and where the events' data
// lies in memory are part of what deciding costs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use whistle_engine::decide::{Context, Decision, decide};
use whistle_engine::event::{Event, parse_event};
use whistle_engine::model::Policy;
use whistle_engine::windows::RepeatIndex;
use whistle_engine::{Compiled, compile};
use whistle_gen::{BundleSpec, EventGen, Synthetic, synthetic_bundle};
use whistle_grammar::bundle::{BundleFile, from_files};

/// Events in the measured mix.
const MIX: usize = 10_000;
/// Earlier events in the history the mix is decided against.
const HISTORY: usize = 200_000;

struct Fixture {
    policy: Policy,
    history: RepeatIndex,
    events: Vec<Event>,
    /// The events whose deadlines run on plain time / on working time.
    plain: Vec<Event>,
    working: Vec<Event>,
    decisions: Vec<Decision>,
}

/// Compiles generated bundle files; panics on an error diagnostic.
fn compile_files(files: &[(String, String)]) -> Compiled {
    let files = files
        .iter()
        .map(|(p, t)| BundleFile {
            path: p.clone(),
            bytes: t.clone().into_bytes(),
        })
        .collect();
    let c = compile(&from_files(files));
    if c.has_errors() {
        panic!("the generated bundle has errors: {:#?}", c.diagnostics);
    }
    c
}

fn uses_working_time(p: &Policy, d: &Decision) -> bool {
    let route = d
        .category_id
        .map_or(&p.fallback, |i| &p.categories[i as usize]);
    let g = &p.grades[d.grade as usize];
    let over = route
        .limits
        .iter()
        .find(|(x, _, _)| *x == d.grade)
        .map(|x| x.1);
    let respond = over.and_then(|o| o.respond).unwrap_or(g.respond);
    let resolve = over.and_then(|o| o.resolve).unwrap_or(g.resolve);
    respond.working || resolve.working
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let syn: Synthetic = synthetic_bundle(BundleSpec::default());
    let policy = compile_files(&syn.files).policy.expect("a policy");
    let mut g = EventGen::for_synthetic(7, &syn);
    let mut history = RepeatIndex::new(policy.max_repeats_window, policy.repeats_levels.clone());
    for line in g.lines(HISTORY) {
        let ev = parse_event(&line).expect("a valid event");
        history.record(&ev, policy.units_of(&ev.grid));
    }
    let events: Vec<Event> = g
        .lines(MIX)
        .iter()
        .map(|l| parse_event(l).expect("a valid event"))
        .collect();
    let ctx = Context {
        history: &history,
        reopened: 0,
    };
    let decisions: Vec<Decision> = events.iter().map(|e| decide(&policy, e, &ctx)).collect();
    let (mut plain, mut working) = (Vec::new(), Vec::new());
    for (e, d) in events.iter().zip(&decisions) {
        if uses_working_time(&policy, d) {
            working.push(e.clone());
        } else {
            plain.push(e.clone());
        }
    }
    Fixture {
        policy,
        history,
        events,
        plain,
        working,
        decisions,
    }
});

fn main() {
    let f = &*FIXTURE;
    let hist = f.decisions.iter().fold([0usize; 4], |mut h, d| {
        h[d.grade as usize] += 1;
        h
    });
    let traced: usize = f.decisions.iter().map(|d| d.trace.len()).sum();
    eprintln!(
        "policy: {} categories, {} departments, {} sites; mix: {} events ({} on working time, {} fallback, {} on the spot), grades blue/yellow/orange/red = {:?}, {:.1} trace lines per decision",
        f.policy.categories.len(),
        f.policy.departments.len(),
        f.policy.sites.len(),
        f.events.len(),
        f.working.len(),
        f.decisions.iter().filter(|d| d.fallback).count(),
        f.decisions.iter().filter(|d| d.on_the_spot).count(),
        hist,
        traced as f64 / f.decisions.len() as f64,
    );
    divan::main();
}

fn decide_all(b: Bencher<'_, '_>, events: &[Event], with_history: bool) {
    let f = &*FIXTURE;
    let ctx = if with_history {
        Context {
            history: &f.history,
            reopened: 0,
        }
    } else {
        Context::default()
    };
    b.counter(ItemsCount::new(events.len())).bench_local(|| {
        for e in events {
            black_box(decide(&f.policy, black_box(e), &ctx));
        }
    });
}

/// The whole mix against the 200,000-event history: the target figure.
#[divan::bench(sample_count = 40)]
fn decide_mix(b: Bencher<'_, '_>) {
    decide_all(b, &FIXTURE.events, true);
}

/// The same mix without history (`repeats` always 0).
#[divan::bench(sample_count = 40)]
fn decide_mix_no_history(b: Bencher<'_, '_>) {
    decide_all(b, &FIXTURE.events, false);
}

/// The first 500 events of the mix only, decided over and over: their
/// memory stays in cache, unlike the 10,000 of `decide_mix`. The gap between
/// the two is the cost of reaching cold event data (the `attr` trees).
#[divan::bench(sample_count = 40)]
fn decide_hot_500(b: Bencher<'_, '_>) {
    decide_all(b, &FIXTURE.events[..500], true);
}

/// Only the events whose limits run on plain time.
#[divan::bench(sample_count = 40)]
fn decide_plain_time_only(b: Bencher<'_, '_>) {
    decide_all(b, &FIXTURE.plain, true);
}

/// Only the events whose respond or resolve limit is `working`.
#[divan::bench(sample_count = 40)]
fn decide_working_time_only(b: Bencher<'_, '_>) {
    decide_all(b, &FIXTURE.working, true);
}

/// `Decision::to_json` (names resolved, deadlines formatted, a new String).
#[divan::bench(sample_count = 40)]
fn to_json(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(ItemsCount::new(f.decisions.len())).bench(|| {
        for d in &f.decisions {
            black_box(d.to_json(&f.policy));
        }
    });
}

/// `Decision::view` alone: names resolved and deadlines formatted, not serialised.
#[divan::bench(sample_count = 40)]
fn view_only(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(ItemsCount::new(f.decisions.len())).bench(|| {
        for d in &f.decisions {
            black_box(d.view(&f.policy));
        }
    });
}

/// What `whistle route` does per decision: the view serialised into a
/// reused buffer.
#[divan::bench(sample_count = 40)]
fn to_writer_reused_buffer(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    let mut buf = Vec::with_capacity(1 << 20);
    b.counter(ItemsCount::new(f.decisions.len()))
        .bench_local(|| {
            buf.clear();
            for d in &f.decisions {
                serde_json::to_writer(&mut buf, &d.view(&f.policy)).unwrap();
                buf.push(b'\n');
            }
            black_box(buf.len());
        });
}

/// `Decision::write_json`: the pre-rendered fast writer `whistle route`
/// uses (byte-for-byte the same output as `to_json`), into a reused buffer.
#[divan::bench(sample_count = 40)]
fn write_json_reused_buffer(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    let mut buf = Vec::with_capacity(1 << 20);
    b.counter(ItemsCount::new(f.decisions.len()))
        .bench_local(|| {
            buf.clear();
            for d in &f.decisions {
                d.write_json(&f.policy, &mut buf).unwrap();
                buf.push(b'\n');
            }
            black_box(buf.len());
        });
}

/// Decide and write JSON (`to_json`), back to back.
#[divan::bench(sample_count = 40)]
fn decide_and_to_json(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    let ctx = Context {
        history: &f.history,
        reopened: 0,
    };
    b.counter(ItemsCount::new(f.events.len())).bench_local(|| {
        for e in &f.events {
            black_box(decide(&f.policy, e, &ctx).to_json(&f.policy));
        }
    });
}

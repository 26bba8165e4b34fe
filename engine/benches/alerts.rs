//! Threshold monitoring (`whistle_engine::alerts::Monitor`) at the
//! simulator's volume: 10,000,000 events a year (one every ~3.15 s), with
//! the shipped policy's six thresholds (windows of 1, 7 and 30 days).
//!
//! The monitor is first filled with 30 days of events (each observed once,
//! when opened: ~820,000 events in the longest window), then measured on
//! the next events, each observed four times in time order — opened,
//! accepted, resolved, closed — with the windows sliding and deadlines
//! passing on the way, as in a simulated year. The count-only variant keeps
//! the shipped policy's three `count(...)` thresholds.
//!
//! `tally_add` measures the assessment side on the same cases:
//! `Tally::add` of each measured case state, facts taken at one instant.
//!
//! `cargo bench -p whistle-engine --bench alerts`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../tools/whistle-gen/src/lib.rs"]
mod whistle_gen;

use std::sync::LazyLock;

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use jiff::Timestamp;
use whistle_engine::alerts::Monitor;
use whistle_engine::assess::Tally;
use whistle_engine::event::Event;
use whistle_engine::lifecycle::{Action, Case, apply};
use whistle_engine::model::{Policy, ThresholdMetric};
use whistle_engine::windows::NoHistory;
use whistle_engine::{Context, compile, decide};
use whistle_gen::{EventGen, Rng, scan_bundle};
use whistle_grammar::bundle::{from_files, read_dir};

/// 2026-01-01T00:00:00+08:00.
const START: i64 = 1_767_196_800;
/// Mean seconds between events: 10,000,000 a year.
const GAP: u64 = 3;
/// Days of events observed before measuring.
const PREFILL_DAYS: i64 = 30;
/// Events measured (each observed four times).
const MEASURED: usize = 25_000;

struct Fixture {
    policy: Policy,
    counts: Policy,
    /// Warm monitors: all thresholds, count thresholds only.
    warm: Monitor,
    warm_counts: Monitor,
    /// Case states, and the observations (state, instant) in time order.
    states: Vec<Case>,
    observations: Vec<(usize, Timestamp)>,
}

fn shipped() -> Policy {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
    compile(&from_files(read_dir(&dir).unwrap()))
        .policy
        .unwrap()
}

fn open(policy: &Policy, line: &str) -> Case {
    let mut ev: Event = serde_json::from_str(line).unwrap();
    // The monitor never reads them; they only cost the fixture memory.
    ev.description = None;
    ev.reporter = None;
    let d = decide(policy, &ev, &Context::default());
    let at = ev.reported_at;
    Case::open(policy, ev, &d, at, &NoHistory).0
}

/// Resident memory in bytes (Linux; 0 elsewhere).
fn resident() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn later(t: Timestamp, secs: u64) -> Timestamp {
    Timestamp::from_second(t.as_second() + secs as i64).unwrap()
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let policy = shipped();
    let mut counts = policy.clone();
    counts
        .thresholds
        .retain(|t| matches!(t.metric, ThresholdMetric::Count(_)));
    assert_eq!(counts.thresholds.len(), 3);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
    let (cats, grids) = scan_bundle(&dir).unwrap();
    let mut gen_ = EventGen::new(7, cats, grids, START, GAP, 10);
    let before = resident();
    let mut warm = Monitor::new(&policy);
    let mut warm_counts = Monitor::new(&counts);
    let mut line = String::new();
    let until = START + PREFILL_DAYS * 86_400;
    loop {
        line.clear();
        gen_.next_line(&mut line);
        let case = open(&policy, line.trim_end());
        let at = case.event.reported_at;
        warm.observe(&policy, &case, at);
        warm_counts.observe(&counts, &case, at);
        if at.as_second() >= until {
            break;
        }
    }
    let grown = resident().saturating_sub(before);
    let mut rng = Rng::new(11);
    let mut states = Vec::with_capacity(MEASURED * 4);
    let mut observations = Vec::with_capacity(MEASURED * 4);
    for _ in 0..MEASURED {
        line.clear();
        gen_.next_line(&mut line);
        let mut case = open(&policy, line.trim_end());
        let t0 = case.event.reported_at;
        states.push(case.clone());
        observations.push((states.len() - 1, t0));
        // Accepted within 0–90 minutes (some late), resolved within a day,
        // rated a few hours later.
        let steps = [
            (rng.below(5_400), Action::Accept { by: None }),
            (rng.below(86_400), Action::Resolve { note: None }),
            (
                rng.below(14_400),
                Action::Feedback {
                    rating: 1 + rng.below(5) as u8,
                    comment: None,
                },
            ),
        ];
        let mut at = t0;
        for (gap, action) in steps {
            at = later(at, gap + 1);
            if apply(&policy, &mut case, action, at, &NoHistory).is_ok() {
                states.push(case.clone());
                observations.push((states.len() - 1, at));
            }
        }
    }
    observations.sort_by_key(|&(i, at)| (at, i));
    eprintln!(
        "alerts fixture: {} events held after {PREFILL_DAYS} days, {} queued instants; \
         both monitors grew the process by {} MB ({} bytes per event held, each); \
         {} observations measured",
        warm.events(),
        warm.queued(),
        grown / 1_000_000,
        grown / 2 / warm.events().max(1) as u64,
        observations.len()
    );
    Fixture {
        policy,
        counts,
        warm,
        warm_counts,
        states,
        observations,
    }
});

fn run(b: Bencher, policy: &Policy, warm: &Monitor) {
    let f = &*FIXTURE;
    b.counter(ItemsCount::new(f.observations.len()))
        .with_inputs(|| warm.clone())
        .bench_local_values(|mut m| {
            for &(i, at) in &f.observations {
                black_box(m.observe(policy, &f.states[i], at));
            }
            m
        });
}

/// Every observe of the measured events, with the shipped policy's six
/// thresholds (three counts, two `overdue_rate`, one `reopen_rate`).
#[divan::bench(sample_count = 12, sample_size = 1)]
fn observe_shipped_thresholds(b: Bencher) {
    let f = &*FIXTURE;
    run(b, &f.policy, &f.warm);
}

/// The same, with only the three `count(...)` thresholds.
#[divan::bench(sample_count = 12, sample_size = 1)]
fn observe_count_thresholds(b: Bencher) {
    let f = &*FIXTURE;
    run(b, &f.counts, &f.warm_counts);
}

/// `Tally::add` of every measured case state (facts at the last instant).
#[divan::bench(sample_count = 12, sample_size = 1)]
fn tally_add(b: Bencher) {
    let f = &*FIXTURE;
    let at = f.observations.last().map_or(Timestamp::UNIX_EPOCH, |o| o.1);
    let facts: Vec<_> = f.states.iter().map(|c| c.facts(at)).collect();
    b.counter(ItemsCount::new(f.states.len()))
        .with_inputs(|| Tally::new(&f.policy))
        .bench_local_values(|mut t| {
            for (c, x) in f.states.iter().zip(facts.iter()) {
                t.add(&f.policy, c, x);
            }
            t
        });
}

fn main() {
    divan::main();
}

//! The in-process path of `whistle route` (target 2 of docs/BENCHMARKS.md),
//! on the shipped `policies/wuhou` and 20,000 generated event lines, split
//! into its stages: JSON parse, event-schema validation, conversion to the
//! typed event, decide (with a `RepeatIndex` history), output; then
//! `Router::route_line` per line and the whole loop of `route_stream`
//! (route each line and write its decision as a JSON line).
//!
//! `cargo bench -p whistle-server --bench route`
//!
//! Like the `whistle` binary, the bench runs on mimalloc. Everything here is
//! one thread; `whistle route` runs parsing and output on every core (rayon)
//! and deciding in input order on one.
//!
//! The end-to-end figure over a 1,000,000-line file is taken with
//! `hyperfine` on the release binary; see docs/BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../tools/whistle-gen/src/lib.rs"]
mod whistle_gen;

use std::io::Write;
use std::path::Path;
use std::sync::LazyLock;

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use serde_json::Value;
use whistle_engine::decide::{Context, Decision, decide, decide_in};
use whistle_engine::event::{EVENT_SCHEMA, Event, compile_schema, parse_event};
use whistle_engine::model::Policy;
use whistle_engine::router::{Router, prepare};
use whistle_engine::windows::RepeatIndex;
use whistle_gen::{EventGen, START_2026_CST, scan_bundle};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lines in the measured mix.
const LINES: usize = 20_000;

struct Fixture {
    policy: Policy,
    lines: Vec<String>,
    values: Vec<Value>,
    events: Vec<Event>,
    /// The history after routing every line of the mix.
    history: RepeatIndex,
    decisions: Vec<Decision>,
    validator: jsonschema::Validator,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
    let bundle = whistle_grammar::bundle::load(&dir).expect("policies/wuhou");
    let policy = whistle_engine::compile(&bundle)
        .policy
        .expect("it compiles");
    let (cats, grids) = scan_bundle(&dir).expect("policies/wuhou");
    let mut g = EventGen::new(7, cats, grids, START_2026_CST, 32, 10);
    let lines = g.lines(LINES);
    let values: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<Event> = lines.iter().map(|l| parse_event(l).unwrap()).collect();
    let mut history = RepeatIndex::new(policy.max_repeats_window, policy.repeats_levels.clone());
    let mut decisions = Vec::with_capacity(LINES);
    for e in &events {
        let ctx = Context {
            history: &history,
            reopened: 0,
        };
        let units = policy.units_of(&e.grid);
        decisions.push(decide_in(&policy, e, units, &ctx));
        history.record(e, units);
    }
    let schema: Value = serde_json::from_str(EVENT_SCHEMA).unwrap();
    let validator = compile_schema(&schema).unwrap();
    Fixture {
        policy,
        lines,
        values,
        events,
        history,
        decisions,
        validator,
    }
});

fn main() {
    let f = &*FIXTURE;
    let bytes: usize = f.lines.iter().map(|l| l.len() + 1).sum();
    eprintln!(
        "wuhou: {} categories; mix: {} lines, {:.0} bytes per line, {} fallback",
        f.policy.categories.len(),
        f.lines.len(),
        bytes as f64 / f.lines.len() as f64,
        f.decisions.iter().filter(|d| d.fallback).count()
    );
    divan::main();
}

fn items() -> ItemsCount {
    ItemsCount::new(LINES)
}

/// Stage 1: `serde_json::from_str::<Value>` of each line.
#[divan::bench(sample_count = 30)]
fn s1_json_parse(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(items()).bench(|| {
        for l in &f.lines {
            black_box(serde_json::from_str::<Value>(l).unwrap());
        }
    });
}

/// Stage 2: validation against `schemas/event.schema.json` (`is_valid`).
#[divan::bench(sample_count = 30)]
fn s2_schema_validate(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(items()).bench(|| {
        for v in &f.values {
            black_box(f.validator.is_valid(v));
        }
    });
}

/// Stage 3: `serde_json::from_value::<Event>` (the parsed values are cloned
/// outside the timing).
#[divan::bench(sample_count = 30)]
fn s3_to_typed_event(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(items())
        .with_inputs(|| f.values.clone())
        .bench_local_values(|vals| {
            for v in vals {
                black_box(serde_json::from_value::<Event>(v).unwrap());
            }
        });
}

/// Stages 1-3 as the engine does them: `parse_event` per line.
#[divan::bench(sample_count = 30)]
fn s123_parse_event(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(items()).bench(|| {
        for l in &f.lines {
            black_box(parse_event(l).unwrap());
        }
    });
}

/// Stage 4: `decide` against the history of the whole mix.
#[divan::bench(sample_count = 30)]
fn s4_decide(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    let ctx = Context {
        history: &f.history,
        reopened: 0,
    };
    b.counter(items()).bench_local(|| {
        for e in &f.events {
            black_box(decide(&f.policy, e, &ctx));
        }
    });
}

/// Stage 4b: `RepeatIndex::record`, into a fresh index each sample.
#[divan::bench(sample_count = 30)]
fn s4b_record_history(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(items())
        .with_inputs(|| {
            RepeatIndex::new(f.policy.max_repeats_window, f.policy.repeats_levels.clone())
        })
        .bench_local_values(|mut h| {
            for e in &f.events {
                h.record(e, f.policy.units_of(&e.grid));
            }
            h
        });
}

/// Stage 5: output — the decision's view written as a JSON line into a
/// reused buffer, as `route_stream` does.
#[divan::bench(sample_count = 30)]
fn s5_output(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    let mut buf: Vec<u8> = Vec::with_capacity(32 << 20);
    b.counter(items()).bench_local(|| {
        buf.clear();
        for d in &f.decisions {
            serde_json::to_writer(&mut buf, &d.view(&f.policy)).unwrap();
            buf.push(b'\n');
        }
        black_box(buf.len());
    });
}

/// `Router::route_line` per line (parse, validate, check attr, decide,
/// remember), from a fresh router each sample.
#[divan::bench(sample_count = 30)]
fn route_line(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(items()).bench(|| {
        let mut r = Router::new(&f.policy);
        for l in &f.lines {
            black_box(r.route_line(l).unwrap());
        }
    });
}

/// Stage 5b: output with `Decision::write_json`, the pre-rendered writer
/// `whistle route` uses (same bytes as the view serialised).
#[divan::bench(sample_count = 30)]
fn s5b_write_json(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    let mut buf: Vec<u8> = Vec::with_capacity(32 << 20);
    b.counter(items()).bench_local(|| {
        buf.clear();
        for d in &f.decisions {
            d.write_json(&f.policy, &mut buf).unwrap();
            buf.push(b'\n');
        }
        black_box(buf.len());
    });
}

/// The work of `whistle route` per line, on one thread: `prepare` (parse,
/// validate, check `attr`), `Router::decide` (decide, remember) and
/// `write_json` through a 64 KiB `BufWriter` into a sink.
#[divan::bench(sample_count = 30)]
fn route_in_process(b: Bencher<'_, '_>) {
    let f = &*FIXTURE;
    b.counter(items()).bench(|| {
        let mut r = Router::new(&f.policy);
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::sink());
        let mut buf = Vec::with_capacity(4096);
        for l in &f.lines {
            let ev = prepare(&f.policy, l).unwrap();
            let d = r.decide(&ev);
            buf.clear();
            d.write_json(&f.policy, &mut buf).unwrap();
            buf.push(b'\n');
            out.write_all(&buf).unwrap();
        }
        out.flush().unwrap();
    });
}

//! Whistle against a peer, in the same run, on the same events (target 4 of
//! docs/BENCHMARKS.md).
//!
//! The peer is gorules' zen-engine 2.1.6 (the Rust engine behind GoRules
//! JDM). The grading of the generated 200-category / 30-department policy
//! is written as one JDM decision table, hit policy `first`: one row per
//! `grade` line of every category, in source order (columns: `category`,
//! an indexed equality column, and the line's condition as a zen
//! expression), outputs `grade` and `lead`, and a last row for the
//! fallback. `repeats(W)`, `hour`, `weekday` and `month` are computed for
//! zen in advance, outside the timing, into its input context; whistle
//! computes them itself, inside `decide`.
//!
//! So the peer does strictly less per event than `whistle_engine::decide`,
//! which also evaluates assists, level, empowerment and relief, deadlines
//! (with a working-time calendar), the planned ladder and the trace. The
//! bench checks that both give the same grade and lead for every event.
//!
//! `cargo bench --manifest-path tools/peer-zen/Cargo.toml`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../whistle-gen/src/lib.rs"]
mod whistle_gen;

use std::future::Future;
use std::task::{Context as TaskContext, Poll, Waker};

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use serde_json::{Value, json};
use whistle_engine::cond::RepeatsBy;
use whistle_engine::decide::{Context, decide};
use whistle_engine::event::{Event, parse_event};
use whistle_engine::model::Policy;
use whistle_engine::windows::{History, RepeatIndex};
use whistle_gen::{BundleSpec, EventGen, synthetic_bundle};
use whistle_grammar::bundle::{BundleFile, from_files};
use zen_engine::Decision as ZenDecision;
use zen_engine::Variable;
use zen_engine::model::GraphContent;

const MIX: usize = 10_000;
const HISTORY: usize = 200_000;

/// Polls a future that never waits on I/O (zen's table evaluation) to the end.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A whistle condition of the generated policy as a zen expression.
fn to_zen(cond: &str) -> String {
    let mut s = cond
        .replace("repeats(7d)", "repeats_7d")
        .replace("repeats(30d, grid)", "repeats_30d_grid")
        .replace("has attr.site", "attr.site != null")
        .replace("[sensor, hotline]", "[\"sensor\", \"hotline\"]")
        .replace("[hotline, citizen]", "[\"hotline\", \"citizen\"]")
        .replace("[sat, sun]", "[6, 7]");
    for src in ["patrol", "citizen", "hotline", "sensor", "department"] {
        s = s.replace(&format!("source == {src}"), &format!("source == \"{src}\""));
    }
    guard_missing(&s)
}

/// In whistle a comparison with a missing field is false and `or` goes on;
/// in zen `null >= 3` fails the whole expression. So every ordering of an
/// `attr` field is guarded: `(attr.x != null and attr.x >= 3)`.
fn guard_missing(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("attr.") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let name_end = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        let name = &tail[..name_end];
        let after = &tail[name_end..];
        let op = [" >= ", " <= ", " > ", " < "]
            .into_iter()
            .find(|op| after.starts_with(op));
        match op {
            Some(op) => {
                let num = &after[op.len()..];
                let num_end = num
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(num.len());
                out.push_str(&format!(
                    "({name} != null and {name}{op}{})",
                    &num[..num_end]
                ));
                rest = &num[num_end..];
            }
            None => {
                out.push_str(name);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The JDM graph: input → grading table → output.
fn zen_graph(files: &[(String, String)], fallback_lead: &str) -> Value {
    let mut rules = Vec::new();
    for (path, text) in files {
        if !path.starts_with("categories/") {
            continue;
        }
        let mut cat = String::new();
        let mut lead = String::new();
        let mut grades: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("category ") {
                cat = rest.split_whitespace().next().unwrap().to_string();
            } else if let Some(rest) = t.strip_prefix("lead ") {
                lead = rest.trim().to_string();
            } else if let Some(rest) = t.strip_prefix("grade ") {
                let rest = rest.trim();
                let (g, cond) = match rest.split_once(" when ") {
                    Some((g, c)) => (g.trim().to_string(), to_zen(c.trim())),
                    None => (rest.to_string(), String::new()),
                };
                grades.push((g, cond));
            } else if t == "}" && !cat.is_empty() {
                for (g, cond) in grades.drain(..) {
                    rules.push(json!({
                        "c": format!("\"{cat}\""),
                        "x": cond,
                        "g": format!("\"{g}\""),
                        "l": format!("\"{lead}\""),
                    }));
                }
                cat.clear();
            }
        }
    }
    rules.push(json!({"c": "", "x": "", "g": "\"yellow\"", "l": format!("\"{fallback_lead}\"")}));
    json!({
        "nodes": [
            {"id": "in", "name": "request", "type": "inputNode", "content": {}},
            {"id": "grading", "name": "grading", "type": "decisionTableNode", "content": {
                "hitPolicy": "first",
                "inputs": [
                    {"id": "c", "name": "category", "field": "category"},
                    {"id": "x", "name": "condition", "field": ""}
                ],
                "outputs": [
                    {"id": "g", "name": "grade", "field": "grade"},
                    {"id": "l", "name": "lead", "field": "lead"}
                ],
                "rules": rules
            }},
            {"id": "out", "name": "response", "type": "outputNode", "content": {}}
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "grading"},
            {"id": "e2", "sourceId": "grading", "targetId": "out"}
        ]
    })
}

struct Fixture {
    policy: Policy,
    history: RepeatIndex,
    events: Vec<Event>,
    zen: ZenDecision,
    contexts: Vec<Variable>,
    /// Whistle's (grade, lead) per event.
    expected: Vec<(String, String)>,
}

/// Zen's input for an event: what the conditions read, computed the way
/// whistle computes it.
fn zen_context(p: &Policy, h: &RepeatIndex, ev: &Event) -> Value {
    let tz = p.calendar.time_zone();
    let dt = tz.to_offset(ev.reported_at).to_datetime(ev.reported_at);
    let key = ev.location.as_deref().unwrap_or(&ev.grid);
    let r7 = h.repeats(
        &ev.category,
        RepeatsBy::Location,
        key,
        7 * 86_400,
        ev.reported_at,
    );
    let r30 = h.repeats(
        &ev.category,
        RepeatsBy::Level(0),
        &ev.grid,
        30 * 86_400,
        ev.reported_at,
    );
    json!({
        "category": ev.category,
        "source": ev.source.as_str(),
        "hour": dt.hour(),
        "weekday": dt.weekday().to_monday_one_offset(),
        "month": dt.month(),
        "reopened": 0,
        "repeats_7d": r7,
        "repeats_30d_grid": r30,
        "attr": if ev.attr.is_null() { json!({}) } else { ev.attr.clone() },
    })
}

thread_local! {
    // zen's `Variable` is reference-counted without atomics (not `Sync`),
    // so the fixture lives on the thread that runs the benches.
    static FIXTURE: Fixture = fixture();
}

fn fixture() -> Fixture {
    let syn = synthetic_bundle(BundleSpec::default());
    let files = syn
        .files
        .iter()
        .map(|(p, t)| BundleFile {
            path: p.clone(),
            bytes: t.clone().into_bytes(),
        })
        .collect();
    let c = whistle_engine::compile(&from_files(files));
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let policy = c.policy.unwrap();
    let mut g = EventGen::for_synthetic(7, &syn);
    let mut history = RepeatIndex::new(policy.max_repeats_window, policy.repeats_levels.clone());
    for line in g.lines(HISTORY) {
        let ev = parse_event(&line).unwrap();
        let units = policy.areas.grids.get(ev.grid.as_str()).map(|u| &**u);
        history.record(&ev, units);
    }
    let events: Vec<Event> = g
        .lines(MIX)
        .iter()
        .map(|l| parse_event(l).unwrap())
        .collect();
    let ctx = Context {
        history: &history,
        reopened: 0,
    };
    let expected = events
        .iter()
        .map(|e| {
            let d = decide(&policy, e, &ctx);
            let v = d.view(&policy);
            (v.grade.to_string(), v.lead.to_string())
        })
        .collect();
    let fallback_lead = policy.departments[policy.fallback.lead as usize]
        .name
        .to_string();
    let graph: GraphContent =
        serde_json::from_value(zen_graph(&syn.files, &fallback_lead)).unwrap();
    let mut zen = ZenDecision::from(graph);
    zen.compile();
    let contexts = events
        .iter()
        .map(|e| Variable::from(zen_context(&policy, &history, e)))
        .collect();
    Fixture {
        policy,
        history,
        events,
        zen,
        contexts,
        expected,
    }
}

fn main() {
    FIXTURE.with(check_agreement);
    divan::main();
}

fn check_agreement(f: &Fixture) {
    let mut agree = 0;
    let mut shown = 0;
    for ((ctx, want), ev) in f.contexts.iter().zip(&f.expected).zip(&f.events) {
        let r = block_on(f.zen.evaluate(ctx.clone())).unwrap();
        let v: Value = r.result.into();
        let got = (
            v["grade"].as_str().unwrap_or("?").to_string(),
            v["lead"].as_str().unwrap_or("?").to_string(),
        );
        if &got == want {
            agree += 1;
        } else if shown < 5 {
            shown += 1;
            eprintln!(
                "disagree on {}: whistle {want:?}, zen {got:?}; context {}",
                ev.id,
                Value::from(ctx.clone())
            );
        }
    }
    eprintln!(
        "zen and whistle agree on grade and lead for {agree} of {} events",
        f.events.len()
    );
}

/// Whistle: the full `decide` (trace included) with a 200,000-event history.
#[divan::bench(sample_count = 30)]
fn whistle_decide(b: Bencher<'_, '_>) {
    FIXTURE.with(|f| {
        let ctx = Context {
            history: &f.history,
            reopened: 0,
        };
        b.counter(ItemsCount::new(f.events.len())).bench_local(|| {
            for e in &f.events {
                black_box(decide(&f.policy, e, &ctx));
            }
        });
    });
}

/// zen-engine: the grading table (grade and lead only), precompiled, no trace.
#[divan::bench(sample_count = 30)]
fn zen_grading_table(b: Bencher<'_, '_>) {
    FIXTURE.with(|f| {
        b.counter(ItemsCount::new(f.contexts.len()))
            .bench_local(|| {
                for c in &f.contexts {
                    black_box(block_on(f.zen.evaluate(c.clone())).unwrap());
                }
            });
    });
}

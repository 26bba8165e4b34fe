//! What the simulator's tests share: policies, a scenario run end to end,
//! and a scenario's errors as (field, message) pairs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use whistle_engine::sim::{self, Options, Role};
use whistle_engine::{Policy, compile, compile_texts};

pub fn policy(text: &str) -> Policy {
    compile_texts(&[("p.whistle", text)]).unwrap_or_else(|e| panic!("{e}"))
}

pub fn shipped() -> Policy {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
    let b = whistle_grammar::bundle::load(&root).unwrap();
    compile(&b).policy.unwrap()
}

pub fn no_files(name: &str) -> Result<String, String> {
    Err(format!("no file `{name}` in this test"))
}

/// Runs a scenario under `draft` (and `baseline`) and returns the report.
pub fn simulate(
    yaml: &str,
    draft: &Policy,
    baseline: Option<&Policy>,
    options: Options,
) -> sim::Report {
    let scenario = sim::parse(yaml).unwrap_or_else(|e| panic!("{e}"));
    let plan =
        sim::plan(&scenario, draft, options, &mut no_files).unwrap_or_else(|e| panic!("{e}"));
    let run = |p: &Policy, role: Role| {
        let p = sim::with_areas(&plan, p);
        let staff = sim::staff(&plan, &p, role).unwrap_or_else(|e| panic!("{e}"));
        sim::run_synthetic(&p, &plan, &staff, role, &mut |_| {})
    };
    let d = run(draft, Role::Draft);
    let b = baseline.map(|b| run(b, Role::Baseline));
    sim::Report::new(&plan, d, b)
}

/// One category, one grade with limits no queue reaches, no ladder: only
/// the queue is left.
pub const QUEUE_POLICY: &str = r#"
policy "queue" { version "1" timezone "UTC" }
levels grid < street
grades blue
grade blue { level grid respond 1000d resolve 1000d }
department d "d" { level grid }
category work { lead d grade blue }
fallback { lead d grade blue }
"#;

pub fn errors(yaml: &str, p: &Policy) -> Vec<(String, String)> {
    let scenario = match sim::parse(yaml) {
        Ok(s) => s,
        Err(e) => return e.0.into_iter().map(|e| (e.path, e.message)).collect(),
    };
    let plan = match sim::plan(&scenario, p, Options::default(), &mut no_files) {
        Ok(plan) => plan,
        Err(e) => return e.0.into_iter().map(|e| (e.path, e.message)).collect(),
    };
    match sim::staff(&plan, &sim::with_areas(&plan, p), Role::Draft) {
        Ok(_) => vec![],
        Err(e) => e.0.into_iter().map(|e| (e.path, e.message)).collect(),
    }
}

/// A scenario of one grid for [`QUEUE_POLICY`]: the `period` mapping's
/// inside, lines of `arrivals` before its categories (indented, each
/// ending in a newline), `per_day` events of `work`, and the inside of
/// the grid's pool; nobody rates and nothing reopens, so only the queue
/// is left.
pub fn one_grid(period: &str, arrivals: &str, per_day: u32, grid: &str) -> String {
    format!(
        "
period: {{{period}}}
areas: {{generate: {{streets: 1, communities: 1, grids: 1}}}}
arrivals:
{arrivals}  categories:
    work: {{per_day: {per_day}}}
capacity:
  levels:
    grid: {{{grid}}}
    street: {{handlers: 1}}
feedback: {{share: 0}}
reopen: {{on_time: 0, late: 0}}
"
    )
}

/// Numbers below `n`, from a xorshift generator started at `seed`: random
/// lives that the seed repeats exactly.
pub fn below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    }
}

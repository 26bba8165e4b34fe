//! Running a policy's `test` blocks (`whistle test`).

use crate::compile::TestCase;
use crate::compile::tests::Expectation;
use crate::decide::{Context, decide};
use crate::decision_json::instant;
use crate::model::Policy;
use crate::windows::RepeatIndex;

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// Where it stands.
    pub location: String,
    /// What did not hold (empty when it passed).
    pub failures: Vec<String>,
}

impl TestResult {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A deadline the decision missed: the instant as the test wrote it (so
/// that it can be found in the file), with the policy's own reading of it
/// beside it where that is written otherwise, and the decision's.
fn missed_instant(
    key: &str,
    policy: &Policy,
    want: jiff::Timestamp,
    written: &str,
    got: &dyn std::fmt::Display,
) -> String {
    let ours = instant(policy, want);
    if ours == written {
        format!("{key}: expected {written}, got {got}")
    } else {
        format!("{key}: expected {written} ({ours} in the policy's time zone), got {got}")
    }
}

/// Runs one test: its events are decided in order, each seeing the earlier
/// ones for `repeats`, and the expectations are checked on the last.
pub fn run_test(policy: &Policy, t: &TestCase) -> TestResult {
    // A test's few events may come in any order: each sees every earlier
    // report, however far before the latest.
    let mut history = RepeatIndex::for_policy(policy).late_within(u64::MAX);
    let mut last = None;
    for ev in &t.events {
        let d = decide(
            policy,
            ev,
            &Context {
                history: &history,
                reopened: 0,
            },
        );
        history.record(ev, policy.units_of(ev.grid.as_str()));
        last = Some(d);
    }
    let mut failures = Vec::new();
    if let Some(d) = last {
        let v = d.view(policy);
        for (e, at) in &t.expect {
            let miss = match e {
                Expectation::Grade(g) => {
                    (v.grade != g).then(|| format!("grade: expected `{g}`, got `{}`", v.grade))
                }
                Expectation::Lead(x) => {
                    (v.lead != x).then(|| format!("lead: expected `{x}`, got `{}`", v.lead))
                }
                Expectation::Level(x) => {
                    (v.level != x).then(|| format!("level: expected `{x}`, got `{}`", v.level))
                }
                Expectation::Unit(x) => (v.unit != x.as_deref()).then(|| {
                    let shown = |u: Option<&str>| u.map_or("null".into(), |u| format!("`{u}`"));
                    format!(
                        "unit: expected {}, got {}",
                        shown(x.as_deref()),
                        shown(v.unit)
                    )
                }),
                Expectation::Assist(xs) => {
                    let mut want: Vec<&str> = xs.iter().map(String::as_str).collect();
                    let mut got = v.assist.clone();
                    want.sort_unstable();
                    got.sort_unstable();
                    (want != got).then(|| {
                        format!(
                            "assist: expected [{}], got [{}]",
                            want.join(", "),
                            got.join(", ")
                        )
                    })
                }
                Expectation::OnTheSpot(b) => (v.on_the_spot != *b)
                    .then(|| format!("on_the_spot: expected {b}, got {}", v.on_the_spot)),
                Expectation::Fallback(b) => (v.fallback != *b)
                    .then(|| format!("fallback: expected {b}, got {}", v.fallback)),
                Expectation::RespondBy(t, written) => (d.respond_by != *t)
                    .then(|| missed_instant("respond_by", policy, *t, written, &v.respond_by)),
                Expectation::ResolveBy(t, written) => (d.resolve_by != *t)
                    .then(|| missed_instant("resolve_by", policy, *t, written, &v.resolve_by)),
            };
            if let Some(m) = miss {
                failures.push(format!("{at}: {m}"));
            }
        }
    }
    TestResult {
        name: t.name.clone(),
        location: t.location.clone(),
        failures,
    }
}

/// Runs every test.
pub fn run_tests(policy: &Policy, tests: &[TestCase]) -> Vec<TestResult> {
    tests.iter().map(|t| run_test(policy, t)).collect()
}

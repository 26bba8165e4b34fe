//! Simulation: a year (or any period) of events against a draft policy,
//! beside the active one — workloads, queues, deadline misses,
//! escalations, threshold warnings and assessment scores, side by side.
//!
//! The simulator runs the engine's own [`crate::decide()`],
//! [`crate::lifecycle::apply`], [`crate::alerts::Monitor`] and
//! [`crate::assess::Tally`] on a simulated clock: there is one
//! implementation of every rule, and the simulator adds only arrivals,
//! people and time.
//!
//! ```text
//! scenario YAML ──parse──▶ Scenario ──plan──▶ Plan ──staff(policy)──▶ Staffing
//!                                              │
//!              arrivals (Generator | Replay) ──┴─▶ Run ──▶ RunReport ─┐
//!                                                                     ├─▶ Report (json, csv, html)
//!                    the same arrivals, the other policy ──▶ RunReport ┘
//! ```
//!
//! Pure like the rest of the engine: files are read by the caller
//! ([`setup::ReadFile`], the replay's lines), threads are the caller's
//! choice (each [`run::Run`] is single-threaded and independent), and
//! progress is a callback.
//!
//! Determinism: the same scenario, seed and policies give the same
//! [`Report`], byte for byte once serialised.

pub mod areas;
pub mod arrivals;
mod capacity;
pub mod dist;
pub mod hours;
mod outcome;
pub mod report;
pub mod run;
pub mod scenario;
pub mod setup;
pub mod shared;
pub mod stats;

pub use arrivals::{Arrival, Generator, Replay, Skip};
pub use report::Report;
pub use run::{Progress, Run};
pub use scenario::{Scenario, ScenarioError, ScenarioErrors, parse};
pub use setup::{Options, Plan, Role, Staffing, plan, staff, with_areas};
pub use shared::SharedArrivals;
pub use stats::RunReport;

use crate::model::Policy;

/// Runs one policy over a plan's synthetic arrivals (a replay goes
/// through [`Run::run`] with a [`Replay`]). `policy` must already carry
/// the plan's area tree ([`with_areas`]).
pub fn run_synthetic(
    policy: &Policy,
    plan: &Plan,
    staff: &Staffing,
    role: Role,
    progress: &mut dyn FnMut(Progress),
) -> RunReport {
    match synthetic_arrivals(plan) {
        Some(arrivals) => run_arrivals(policy, plan, staff, role, arrivals, progress),
        None => run_arrivals(policy, plan, staff, role, std::iter::empty(), progress),
    }
}

/// A plan's synthetic arrivals, `None` for a plan that replays a log.
/// Several runs share one draw of them through [`SharedArrivals`].
pub fn synthetic_arrivals(plan: &Plan) -> Option<Generator<'_>> {
    let a = plan.arrivals.as_ref()?;
    Some(Generator::new(a, &plan.tz, plan.run_from, plan.end, plan.seed).drawing_flat())
}

/// Runs one policy over `arrivals` (a plan's [`synthetic_arrivals`], or a
/// [`SharedArrivals`] reader of them).
pub fn run_arrivals(
    policy: &Policy,
    plan: &Plan,
    staff: &Staffing,
    role: Role,
    arrivals: impl Iterator<Item = Result<Arrival, Skip>>,
    progress: &mut dyn FnMut(Progress),
) -> RunReport {
    let mut run = Run::new(policy, plan, staff);
    run.run(arrivals, progress);
    run.into_report(role)
}

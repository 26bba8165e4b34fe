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
pub mod stats;

pub use arrivals::{Arrival, Generator, Replay, Skip};
pub use report::Report;
pub use run::{Progress, Run};
pub use scenario::{Scenario, ScenarioError, ScenarioErrors, parse};
pub use setup::{Options, Plan, Role, Staffing, plan, staff, with_areas};
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
    let mut run = Run::new(policy, plan, staff);
    match &plan.arrivals {
        Some(a) => run.run(
            Generator::new(a, &plan.tz, plan.run_from, plan.end, plan.seed).drawing_flat(),
            progress,
        ),
        None => run.run(std::iter::empty(), progress),
    }
    run.into_report(role)
}

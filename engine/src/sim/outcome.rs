//! Turning a finished run's counters into its [`RunReport`].

use rustc_hash::FxHashMap;

use super::capacity::Pools;
use super::setup::{Plan, Role, Staffing};
use super::stats::{Backlog, Collect, PolicyInfo, PoolRow, RunReport, Series, Weekly, round};
use crate::assess::Tally;
use crate::model::Policy;

fn series(name: &str, values: &[f64]) -> Series {
    Series {
        name: name.to_string(),
        values: values.to_vec(),
    }
}

/// The first day of each week of the period.
fn week_starts(plan: &Plan, weeks: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(weeks);
    let mut d = plan.from;
    for _ in 0..weeks {
        out.push(d.to_string());
        d = d.saturating_add(jiff::Span::new().days(7));
    }
    out
}

fn days(plan: &Plan, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut d = plan.from;
    for _ in 0..n {
        out.push(d.to_string());
        d = d.saturating_add(jiff::Span::new().days(1));
    }
    out
}

/// Working seconds of a pool kind over the period (its calendar's, or all).
fn working_seconds(plan: &Plan, staff: &Staffing, kind: u32) -> f64 {
    let span = (plan.end.as_second() - plan.start.as_second()) as f64;
    match staff
        .kinds
        .get(kind as usize)
        .and_then(|k| k.calendar.as_ref())
    {
        None => span,
        Some(c) => c.working_seconds_between(plan.start, plan.end) as f64,
    }
}

fn pool_rows(plan: &Plan, staff: &Staffing, pools: &Pools) -> Vec<PoolRow> {
    #[derive(Default)]
    struct Acc {
        units: u64,
        served: u64,
        waits: u64,
        waiting: u64,
        wait: f64,
        wait_max: i64,
        work: f64,
        busiest: (f64, String),
        max_queue: u32,
    }
    let mut by_kind: FxHashMap<u32, Acc> = FxHashMap::default();
    // Every pool the scenario staffs has a row, one that had no work too
    // (no event reached the district's desk): that is a finding as well.
    for kind in 0..staff.kinds.len() {
        by_kind.insert(u32::try_from(kind).unwrap_or(u32::MAX), Acc::default());
    }
    for p in &pools.pools {
        let a = by_kind.entry(p.kind).or_default();
        a.units += 1;
        a.served += p.served;
        a.waits += p.waits;
        a.waiting += u64::from(p.waiting);
        a.wait += p.wait_sum;
        a.wait_max = a.wait_max.max(p.wait_max);
        a.work += p.work;
        a.max_queue = a.max_queue.max(p.max_waiting);
        let cap = f64::from(p.handlers) * working_seconds(plan, staff, p.kind);
        let u = if cap > 0.0 { p.work / cap } else { 0.0 };
        let name = p.unit.as_deref().unwrap_or("unknown").to_string();
        // Ties go to the smaller unit id, so the report does not depend on
        // the order pools were made in.
        if u > a.busiest.0 || (u == a.busiest.0 && (a.busiest.1.is_empty() || name < a.busiest.1)) {
            a.busiest = (u, name);
        }
    }
    let mut rows: Vec<(u32, PoolRow)> = by_kind
        .into_iter()
        .map(|(kind, a)| {
            let k = staff.kinds.get(kind as usize);
            let handlers = k.map_or(1, |k| k.plan.handlers);
            let cap = f64::from(handlers) * working_seconds(plan, staff, kind) * a.units as f64;
            (
                kind,
                PoolRow {
                    pool: k.map_or_else(|| "?".into(), |k| k.label.clone()),
                    units: a.units,
                    handlers,
                    served: a.served,
                    queued: a.waits,
                    waiting_at_end: a.waiting,
                    mean_wait_hours: round(
                        if a.waits > 0 {
                            a.wait / a.waits as f64 / 3600.0
                        } else {
                            0.0
                        },
                        4,
                    ),
                    max_wait_hours: round(a.wait_max as f64 / 3600.0, 2),
                    utilisation: round(if cap > 0.0 { a.work / cap } else { 0.0 }, 4),
                    busiest_unit: a.busiest.1,
                    busiest_utilisation: round(a.busiest.0, 4),
                    max_queue: a.max_queue,
                },
            )
        })
        .collect();
    rows.sort_by_key(|(k, _)| *k);
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The report of a finished run.
pub(crate) fn report(
    policy: &Policy,
    plan: &Plan,
    staff: &Staffing,
    pools: &Pools,
    mut c: Collect,
    tally: &Tally,
    role: Role,
) -> RunReport {
    c.totals.mean_resolution_hours =
        (c.resolution_count > 0).then(|| round(c.resolution_hours / c.resolution_count as f64, 3));
    let weeks = c.week_arrivals.len();
    let weekly = Weekly {
        start: week_starts(plan, weeks),
        arrivals: c.week_arrivals.clone(),
        by_grade: policy
            .grades
            .iter()
            .zip(&c.week_by_grade)
            .map(|(g, v)| series(&g.name, v))
            .collect(),
        resolved: c.week_resolved.clone(),
        resolved_late: c.week_late.clone(),
        raises: policy
            .levels
            .iter()
            .zip(&c.week_raises)
            .map(|(l, v)| series(l, v))
            .collect(),
        alerts: policy
            .thresholds
            .iter()
            .zip(&c.week_alerts)
            .map(|(t, v)| series(&t.name, v))
            .collect(),
    };
    let n_days = c.day_level.first().map_or(0, Vec::len);
    let backlog = Backlog {
        days: days(plan, n_days),
        by_level: policy
            .levels
            .iter()
            .zip(&c.day_level)
            .map(|(l, v)| series(l, v))
            .collect(),
        by_department: policy
            .departments
            .iter()
            .zip(&c.day_dept)
            .filter(|(_, v)| v.iter().any(|x| *x > 0.0))
            .map(|(d, v)| series(&d.name, v))
            .collect(),
        queued_by_level: policy
            .levels
            .iter()
            .zip(&c.day_queued)
            .map(|(l, v)| series(l, v))
            .collect(),
    };
    for (row, groups) in c.alerts.by_threshold.iter_mut().zip(&c.alert_groups) {
        row.groups = groups.len() as u64;
    }
    let mut assessment = tally.report(policy);
    // The grid table has a row per grid (thousands in a large tree): the
    // report keeps the levels above it, the scores and the targets.
    if let Some(lowest) = policy.levels.first() {
        assessment.groups.retain(|t| t.by != **lowest);
    }
    RunReport {
        role,
        policy: PolicyInfo {
            name: policy.name.to_string(),
            version: policy.version.to_string(),
            hash: policy.hash.to_string(),
        },
        notes: notes(staff, &c),
        skipped: c.skipped,
        skipped_first: c.skipped_first,
        totals: c.totals,
        grades: c.grades,
        levels: c.levels,
        pools: pool_rows(plan, staff, pools),
        weekly,
        backlog,
        assessment,
        alerts: c.alerts,
    }
}

/// The staffing's notes, and what the run found worth a word.
fn notes(staff: &Staffing, c: &Collect) -> Vec<String> {
    let mut out = staff.notes.clone();
    if c.unplaced > 0 {
        out.push(format!(
            "{} event(s) on grids the area tree does not have ({}{}): they were handled by one `unknown` unit per level, so their queues and thresholds are not those of real units",
            c.unplaced,
            c.unplaced_first.join(", "),
            if c.unplaced_first.len() < 5 { "" } else { ", …" }
        ));
    }
    out
}

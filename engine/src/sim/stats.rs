//! What one run counts while it goes, and the [`RunReport`] it ends with.
//! Counters are bounded by the period (weeks, days) and the policy (grades,
//! levels, departments), never by the number of events.

use serde::Serialize;

use super::setup::Role;
use crate::lifecycle::{Case, Facts};
use crate::model::{GradeId, LevelId, Policy};

/// A named series of values over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// What it counts (a level, a department, a grade, a threshold).
    pub name: String,
    /// One value per week or day.
    pub values: Vec<f64>,
}

/// Counts for one grade.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GradeRow {
    /// The grade.
    pub grade: String,
    /// Events decided with it.
    pub events: u64,
    /// Events (ending with this grade) that missed a respond deadline.
    pub respond_missed: u64,
    /// That missed a resolve deadline.
    pub resolve_missed: u64,
    /// That the ladder raised.
    pub raised: u64,
    /// Still open when the period ended.
    pub open_at_end: u64,
}

/// Raises that reached one level.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LevelRow {
    /// The level.
    pub level: String,
    /// Raises to it.
    pub raises: u64,
    /// Events resolved at it.
    pub resolved: u64,
    /// Largest backlog (unresolved events handled at it) at any instant.
    pub peak_backlog: u64,
}

/// Handling by one kind of pool, over all its units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolRow {
    /// `grid`, `street`, `urban@street`, ...
    pub pool: String,
    /// Units that had work.
    pub units: u64,
    /// Handlers per unit.
    pub handlers: u32,
    /// Events whose handling started.
    pub served: u64,
    /// Stays in a queue the waits are taken over: ended by a free handler,
    /// by a raise that moved the event, or by the period's end.
    pub queued: u64,
    /// Mean wait for a free handler over those stays, hours.
    pub mean_wait_hours: f64,
    /// Longest of them, hours.
    pub max_wait_hours: f64,
    /// Events still waiting for a handler when the period ended.
    pub waiting_at_end: u64,
    /// Mean share of the handlers' working time spent handling.
    pub utilisation: f64,
    /// The busiest unit and its share.
    pub busiest_unit: String,
    /// Its share.
    pub busiest_utilisation: f64,
    /// Longest queue in one unit.
    pub max_queue: u32,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Events that arrived.
    pub events: u64,
    /// Settled on the spot.
    pub on_the_spot: u64,
    /// Routed by the fallback.
    pub fallback: u64,
    /// Resolved (last round) by the end.
    pub resolved: u64,
    /// Closed by feedback.
    pub closed: u64,
    /// Reopened at least once.
    pub reopened: u64,
    /// Reopens in all.
    pub reopens: u64,
    /// Missed a respond deadline.
    pub respond_missed: u64,
    /// Missed a resolve deadline.
    pub resolve_missed: u64,
    /// Past a deadline.
    pub overdue: u64,
    /// Raised by the ladder at least once.
    pub raised: u64,
    /// Ladder steps fired.
    pub steps_fired: u64,
    /// Reminders.
    pub reminders: u64,
    /// Notifications.
    pub notifications: u64,
    /// Departments whistled.
    pub whistled: u64,
    /// Acknowledgements missed.
    pub ack_overdue: u64,
    /// Events rated by the end (each counted once, by its last rating).
    pub rated: u64,
    /// Of those, rated 4 or 5.
    pub satisfied: u64,
    /// Still open at the end.
    pub open_at_end: u64,
    /// Largest number of unresolved events at any instant.
    pub peak_open: u64,
    /// Mean hours from report to resolution; `None` (null) when no event
    /// was resolved, as in the summary table and the assessment.
    pub mean_resolution_hours: Option<f64>,
    /// Actions the lifecycle refused (a simulator bug if not 0).
    pub refused: u64,
}

/// Weekly counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Weekly {
    /// The first day of each week.
    pub start: Vec<String>,
    /// Arrivals.
    pub arrivals: Vec<f64>,
    /// Arrivals by grade.
    pub by_grade: Vec<Series>,
    /// Resolutions.
    pub resolved: Vec<f64>,
    /// Resolutions past the deadline.
    pub resolved_late: Vec<f64>,
    /// Raises by the level reached.
    pub raises: Vec<Series>,
    /// Alerts raised, by threshold.
    pub alerts: Vec<Series>,
}

/// Open events at each day's end.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Backlog {
    /// The days.
    pub days: Vec<String>,
    /// Open events by handling level.
    pub by_level: Vec<Series>,
    /// Open events by lead department (departments that had any).
    pub by_department: Vec<Series>,
    /// Events accepted and waiting for a free handler, by level.
    pub queued_by_level: Vec<Series>,
}

/// The policy a run used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyInfo {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its content hash.
    pub hash: String,
}

/// Everything one run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// Draft or baseline.
    pub role: Role,
    /// The policy.
    pub policy: PolicyInfo,
    /// Notes (names the baseline does not know).
    pub notes: Vec<String>,
    /// Replayed lines not simulated.
    pub skipped: u64,
    /// Why, for the first few.
    pub skipped_first: Vec<String>,
    /// Totals.
    pub totals: Totals,
    /// By grade.
    pub grades: Vec<GradeRow>,
    /// By level.
    pub levels: Vec<LevelRow>,
    /// By pool kind.
    pub pools: Vec<PoolRow>,
    /// Weekly.
    pub weekly: Weekly,
    /// Daily backlog.
    pub backlog: Backlog,
    /// The assessment of the period (metrics, scores, targets), without
    /// the table of the lowest level's units.
    pub assessment: crate::assess::Report,
    /// Threshold warnings.
    pub alerts: AlertSummary,
}

/// Threshold warnings over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertSummary {
    /// Alerts raised.
    pub raised: u64,
    /// Alerts cleared.
    pub cleared: u64,
    /// Per threshold.
    pub by_threshold: Vec<ThresholdRow>,
    /// The first alerts, in time order.
    pub first: Vec<serde_json::Value>,
}

/// One threshold's alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThresholdRow {
    /// The threshold.
    pub threshold: String,
    /// Raised.
    pub raised: u64,
    /// Cleared.
    pub cleared: u64,
    /// Groups alerted at least once.
    pub groups: u64,
}

/// Rounds for the report: enough digits to compare, few enough to read.
pub fn round(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

/// The live counters of a run.
#[derive(Debug, Default)]
pub(crate) struct Collect {
    pub totals: Totals,
    pub grades: Vec<GradeRow>,
    pub levels: Vec<LevelRow>,
    pub week_arrivals: Vec<f64>,
    pub week_by_grade: Vec<Vec<f64>>,
    pub week_resolved: Vec<f64>,
    pub week_late: Vec<f64>,
    pub week_raises: Vec<Vec<f64>>,
    pub week_alerts: Vec<Vec<f64>>,
    pub open_by_level: Vec<u64>,
    /// Unresolved events now, all levels.
    pub open_now: u64,
    pub open_by_dept: Vec<u64>,
    pub queued_by_level: Vec<u64>,
    pub day_level: Vec<Vec<f64>>,
    pub day_dept: Vec<Vec<f64>>,
    pub day_queued: Vec<Vec<f64>>,
    pub resolution_hours: f64,
    pub resolution_count: u64,
    pub skipped: u64,
    pub skipped_first: Vec<String>,
    /// Events on a grid the area tree does not place (first few ids kept).
    pub unplaced: u64,
    pub unplaced_first: Vec<String>,
    pub alerts: AlertSummary,
    pub alert_groups: Vec<std::collections::BTreeSet<String>>,
}

impl Collect {
    /// Counters sized for a policy and a number of weeks and days.
    pub fn new(policy: &Policy, weeks: usize, days: usize, thresholds: usize) -> Collect {
        let (g, l, d) = (
            policy.grades.len(),
            policy.levels.len(),
            policy.departments.len(),
        );
        Collect {
            grades: policy
                .grades
                .iter()
                .map(|x| GradeRow {
                    grade: x.name.to_string(),
                    ..GradeRow::default()
                })
                .collect(),
            levels: policy
                .levels
                .iter()
                .map(|x| LevelRow {
                    level: x.to_string(),
                    ..LevelRow::default()
                })
                .collect(),
            week_arrivals: vec![0.0; weeks],
            week_by_grade: vec![vec![0.0; weeks]; g],
            week_resolved: vec![0.0; weeks],
            week_late: vec![0.0; weeks],
            week_raises: vec![vec![0.0; weeks]; l],
            week_alerts: vec![vec![0.0; weeks]; thresholds],
            open_by_level: vec![0; l],
            open_now: 0,
            open_by_dept: vec![0; d],
            queued_by_level: vec![0; l],
            day_level: vec![Vec::with_capacity(days); l],
            day_dept: vec![Vec::with_capacity(days); d],
            day_queued: vec![Vec::with_capacity(days); l],
            alert_groups: vec![Default::default(); thresholds],
            ..Collect::default()
        }
    }

    /// Adds one to a weekly counter (weeks past the end fall in the last).
    pub fn bump(series: &mut [f64], week: usize) {
        let last = series.len().saturating_sub(1);
        if let Some(x) = series.get_mut(week.min(last)) {
            *x += 1.0;
        }
    }

    /// The backlog at a day's end.
    pub fn sample(&mut self) {
        for (i, n) in self.open_by_level.iter().enumerate() {
            if let Some(s) = self.day_level.get_mut(i) {
                s.push(*n as f64);
            }
        }
        for (s, n) in self.day_dept.iter_mut().zip(&self.open_by_dept) {
            s.push(*n as f64);
        }
        for (s, n) in self.day_queued.iter_mut().zip(&self.queued_by_level) {
            s.push(*n as f64);
        }
    }

    /// A case's outcome, at its end or at the period's end.
    pub fn finish(&mut self, case: &Case, facts: &Facts, grade: Option<GradeId>, open: bool) {
        let t = &mut self.totals;
        t.respond_missed += u64::from(facts.on_time_response == Some(false));
        t.resolve_missed += u64::from(facts.on_time_resolution == Some(false));
        t.overdue += u64::from(facts.overdue);
        t.raised += u64::from(facts.escalated);
        t.reopened += u64::from(facts.reopened);
        t.open_at_end += u64::from(open);
        t.resolved += u64::from(case.resolved_at.is_some());
        t.closed += u64::from(case.closed_at.is_some());
        // The last rating given by the period's end, as `satisfaction`
        // takes it: a rating due after the end was never given.
        t.rated += u64::from(facts.satisfied.is_some());
        t.satisfied += u64::from(facts.satisfied == Some(true));
        if let Some(h) = facts.resolution_hours {
            self.resolution_hours += h;
            self.resolution_count += 1;
        }
        if let Some(row) = grade.and_then(|g| self.grades.get_mut(g as usize)) {
            row.respond_missed += u64::from(facts.on_time_response == Some(false));
            row.resolve_missed += u64::from(facts.on_time_resolution == Some(false));
            row.raised += u64::from(facts.escalated);
            row.open_at_end += u64::from(open);
        }
    }

    /// Moves an open case between level and department counters.
    pub fn open_move(&mut self, from: Option<(LevelId, u16)>, to: Option<(LevelId, u16)>) {
        if let Some((l, d)) = from {
            dec(&mut self.open_by_level, l as usize);
            dec(&mut self.open_by_dept, d as usize);
        }
        if let Some((l, d)) = to {
            inc(&mut self.open_by_level, l as usize);
            inc(&mut self.open_by_dept, d as usize);
            // Peaks at the very instant they happen, not at a daily sample
            // (which misses a day's build-up and the period's last day).
            let at_level = self.open_by_level.get(l as usize).copied().unwrap_or(0);
            if let Some(r) = self.levels.get_mut(l as usize) {
                r.peak_backlog = r.peak_backlog.max(at_level);
            }
        }
        self.open_now =
            (self.open_now + u64::from(to.is_some())).saturating_sub(u64::from(from.is_some()));
        self.totals.peak_open = self.totals.peak_open.max(self.open_now);
    }
}

/// Subtracts one, never below zero.
pub(crate) fn dec(v: &mut [u64], i: usize) {
    if let Some(x) = v.get_mut(i) {
        *x = x.saturating_sub(1);
    }
}

/// Adds one.
pub(crate) fn inc(v: &mut [u64], i: usize) {
    if let Some(x) = v.get_mut(i) {
        *x += 1;
    }
}

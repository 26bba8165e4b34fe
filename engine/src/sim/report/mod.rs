//! The simulation report: both runs, the scenario they ran, and a summary
//! of draft against baseline — as JSON ([`Report::to_json`]), CSV tables
//! ([`csv::tables`]), one self-contained HTML page ([`html::page`]) and a
//! terminal table ([`Report::table`]).

pub mod csv;
pub mod html;
mod svg;

use serde::Serialize;

use super::setup::Plan;
use super::stats::{RunReport, round};

/// The format version of `report.json`.
pub const FORMAT: u32 = 1;

/// What was simulated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioInfo {
    /// Its title.
    pub name: String,
    /// What it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// Days simulated before `from` and not counted.
    #[serde(skip_serializing_if = "is_zero")]
    pub warmup_days: u32,
    /// The seed.
    pub seed: u64,
    /// The time zone of the period.
    pub time_zone: String,
    /// Expected synthetic events (0 for a replay).
    pub expected_events: f64,
    /// Grids events were spread over.
    pub grids: usize,
    /// The replayed file, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One line of the summary: a measure under both policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// A stable key (`resolve_missed_rate`).
    pub metric: String,
    /// Words for people.
    pub label: String,
    /// `%` for shares (given as percentages), `h` for hours, `score` for
    /// assessment scores (0–100, two decimals), empty for counts.
    pub unit: &'static str,
    /// Whether lower is better (for colouring deltas).
    pub lower_is_better: bool,
    /// Under the draft; `null` when it has nothing to be taken over (a
    /// share of no events, a mean of none).
    pub draft: Option<f64>,
    /// Under the baseline (absent without one; `null` as for `draft`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Option<f64>>,
    /// Draft minus baseline (absent without a baseline; `null` when
    /// either side is `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<Option<f64>>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`FORMAT`].
    pub format: u32,
    /// What was simulated.
    pub scenario: ScenarioInfo,
    /// Draft against baseline.
    pub summary: Vec<SummaryRow>,
    /// The draft's run.
    pub draft: RunReport,
    /// The baseline's run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<RunReport>,
}

/// A share in percent, or none of nothing: "0 % of 0 red events missed"
/// would read as a success.
fn share(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| round(100.0 * n as f64 / of as f64, 3))
}

/// A summary measure: key, label, unit, whether lower is better, value.
type Measure = (String, String, &'static str, bool, Option<f64>);

/// The summary measures of one run, in a fixed order.
fn measures(r: &RunReport) -> Vec<Measure> {
    let t = &r.totals;
    let mut out = vec![
        (
            "events".into(),
            "events".into(),
            "",
            false,
            Some(t.events as f64),
        ),
        (
            "on_the_spot_rate".into(),
            "settled on the spot".into(),
            "%",
            false,
            share(t.on_the_spot, t.events),
        ),
        (
            "respond_missed_rate".into(),
            "respond deadline missed".into(),
            "%",
            true,
            share(t.respond_missed, t.events),
        ),
        (
            "resolve_missed_rate".into(),
            "resolve deadline missed".into(),
            "%",
            true,
            share(t.resolve_missed, t.events),
        ),
        (
            "overdue_rate".into(),
            "overdue (any deadline)".into(),
            "%",
            true,
            share(t.overdue, t.events),
        ),
        (
            "escalation_rate".into(),
            "raised by the ladder".into(),
            "%",
            true,
            share(t.raised, t.events),
        ),
        (
            "reopen_rate".into(),
            "reopened".into(),
            "%",
            true,
            share(t.reopened, t.events),
        ),
        (
            "satisfaction".into(),
            "satisfied (4-5 stars)".into(),
            "%",
            false,
            share(t.satisfied, t.rated),
        ),
        (
            "mean_resolution_hours".into(),
            "mean time to resolve".into(),
            "h",
            true,
            t.mean_resolution_hours,
        ),
        (
            "open_at_end".into(),
            "open at the end".into(),
            "",
            true,
            Some(t.open_at_end as f64),
        ),
        (
            "peak_open".into(),
            "peak unresolved (any instant)".into(),
            "",
            true,
            Some(t.peak_open as f64),
        ),
    ];
    for g in &r.grades {
        out.push((
            format!("respond_missed_rate_{}", g.grade),
            format!("respond missed, {}", g.grade),
            "%",
            true,
            share(g.respond_missed, g.events),
        ));
        out.push((
            format!("resolve_missed_rate_{}", g.grade),
            format!("resolve missed, {}", g.grade),
            "%",
            true,
            share(g.resolve_missed, g.events),
        ));
    }
    let (served, wait): (u64, f64) = r.pools.iter().fold((0, 0.0), |(n, w), p| {
        (n + p.queued, w + p.mean_wait_hours * p.queued as f64)
    });
    out.push((
        "mean_queue_wait_hours".into(),
        "mean wait for a handler".into(),
        "h",
        true,
        (served > 0).then(|| round(wait / served as f64, 3)),
    ));
    for l in &r.levels {
        out.push((
            format!("raises_to_{}", l.level),
            format!("raises to {}", l.level),
            "",
            true,
            Some(l.raises as f64),
        ));
    }
    for l in &r.levels {
        out.push((
            format!("peak_backlog_{}", l.level),
            format!("peak backlog at {}", l.level),
            "",
            true,
            Some(l.peak_backlog as f64),
        ));
    }
    out.push((
        "alerts_raised".into(),
        "threshold alerts raised".into(),
        "",
        true,
        Some(r.alerts.raised as f64),
    ));
    let met = r.assessment.targets.iter().filter(|t| t.met).count();
    out.push((
        "targets_met".into(),
        format!("targets met (of {})", r.assessment.targets.len()),
        "",
        false,
        Some(met as f64),
    ));
    for table in &r.assessment.scores {
        let scored: Vec<f64> = table.rows.iter().filter_map(|row| row.score).collect();
        if !scored.is_empty() {
            out.push((
                format!("mean_score_{}", table.by),
                format!("mean {} score", table.by),
                "score",
                false,
                Some(round(scored.iter().sum::<f64>() / scored.len() as f64, 2)),
            ));
        }
    }
    out
}

/// A summary value as people read it: a share as a percentage, hours,
/// a score with two decimals, a count whole.
pub(crate) fn fmt(x: f64, unit: &str) -> String {
    match unit {
        "%" => format!("{x:.2}%"),
        "h" => format!("{x:.2} h"),
        "score" => format!("{x:.2}"),
        _ if x.fract() == 0.0 => format!("{x:.0}"),
        _ => format!("{x:.2}"),
    }
}

/// How a value with nothing to be taken over reads.
pub(crate) const NA: &str = "—";

/// [`fmt`] of a value that may be n/a.
pub(crate) fn value(x: Option<f64>, unit: &str) -> String {
    x.map_or_else(|| NA.to_string(), |x| fmt(x, unit))
}

/// A draft-minus-baseline difference, signed: shares in percentage
/// points.
pub(crate) fn delta(x: f64, unit: &str) -> String {
    let body = match unit {
        "%" => format!("{:.2} pp", x.abs()),
        _ => fmt(x.abs(), unit),
    };
    // A difference that rounds to nothing has no sign: `-0.00` would read
    // as a loss, `+0.00` as a gain.
    let zero = body.chars().all(|c| !c.is_ascii_digit() || c == '0');
    let sign = match () {
        _ if zero => "",
        _ if x > 0.0 => "+",
        _ => "-",
    };
    format!("{sign}{body}")
}

impl Report {
    /// The report of a draft run and, optionally, its baseline.
    pub fn new(plan: &Plan, draft: RunReport, baseline: Option<RunReport>) -> Report {
        let d = measures(&draft);
        let b = baseline.as_ref().map(measures);
        let summary = d
            .into_iter()
            .map(|(metric, label, unit, lower, value)| {
                // A measure the baseline lacks (a level it does not have)
                // is n/a there.
                let base = b
                    .as_ref()
                    .map(|b| b.iter().find(|x| x.0 == metric).and_then(|x| x.4));
                SummaryRow {
                    delta: base.map(|x| Some(round(value? - x?, 3))),
                    metric,
                    label,
                    unit,
                    lower_is_better: lower,
                    draft: value,
                    baseline: base,
                }
            })
            .collect();
        Report {
            format: FORMAT,
            scenario: ScenarioInfo {
                name: plan.name.clone(),
                description: plan.description.clone(),
                from: plan.from.to_string(),
                to: plan.to.to_string(),
                warmup_days: plan.warmup_days,
                seed: plan.seed,
                time_zone: plan.tz.iana_name().unwrap_or("UTC").to_string(),
                expected_events: round(plan.arrivals.as_ref().map_or(0.0, |a| a.expected), 1),
                grids: plan.arrivals.as_ref().map_or_else(
                    || plan.areas.as_ref().map_or(0, |a| a.grids.len()),
                    |a| a.grids.len(),
                ),
                replay: plan.replay.clone(),
            },
            summary,
            draft,
            baseline,
        }
    }

    /// `report.json`: pretty, stable (same inputs, same bytes).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }

    /// The summary as a text table for a terminal.
    pub fn table(&self) -> String {
        let has_base = self.baseline.is_some();
        let mut rows: Vec<[String; 4]> = vec![[
            "measure".into(),
            if has_base {
                "baseline".into()
            } else {
                String::new()
            },
            "draft".into(),
            if has_base {
                "draft − baseline".into()
            } else {
                String::new()
            },
        ]];
        for r in &self.summary {
            rows.push([
                r.label.clone(),
                r.baseline.map(|b| value(b, r.unit)).unwrap_or_default(),
                value(r.draft, r.unit),
                r.delta
                    .map(|d| d.map_or_else(|| NA.to_string(), |d| delta(d, r.unit)))
                    .unwrap_or_default(),
            ]);
        }
        let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
        let w = [width(0), width(1), width(2), width(3)];
        let mut out = String::new();
        for (n, r) in rows.iter().enumerate() {
            let pad = |s: &str, w: usize| " ".repeat(w.saturating_sub(s.chars().count()));
            out.push_str(&format!("{}{}", r[0], pad(&r[0], w[0])));
            for i in 1..4 {
                if w[i] > 0 {
                    out.push_str(&format!("  {}{}", pad(&r[i], w[i]), r[i]));
                }
            }
            out.push('\n');
            if n == 0 {
                out.push_str(&"─".repeat(
                    w.iter().sum::<usize>()
                        + 2 * w.iter().filter(|x| **x > 0).count().saturating_sub(1),
                ));
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{delta, fmt};

    /// Each kind of value reads the same way everywhere, whatever its
    /// value: a score or an hour keeps its decimals at zero too.
    #[test]
    fn values_and_differences_keep_their_form() {
        assert_eq!(fmt(93.5, "%"), "93.50%");
        assert_eq!(fmt(86.0, "score"), "86.00");
        assert_eq!(fmt(86.0, ""), "86");
        assert_eq!(delta(0.0, "score"), "0.00");
        assert_eq!(delta(-1.36, "score"), "-1.36");
        assert_eq!(delta(5.714, "%"), "+5.71 pp");
        assert_eq!(delta(0.03, "h"), "+0.03 h");
        assert_eq!(delta(-10.0, ""), "-10");
        // Differences too small to show have no sign.
        assert_eq!(delta(-0.0001, "score"), "0.00");
        assert_eq!(delta(0.004, "score"), "0.00");
        assert_eq!(delta(-0.001, "%"), "0.00 pp");
        assert_eq!(delta(-0.006, "score"), "-0.01");
    }
}

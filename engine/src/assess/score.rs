//! Weighted scores of `assess` blocks and `target` lines (LANGUAGE.md 3.6).

use serde::Serialize;

use super::report::{GroupTable, Values, group_name};
use crate::cond::{Op, Val, compare};
use crate::model::{Metric, Policy};

/// A metric and its weight in a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weight {
    /// The metric's name.
    pub metric: &'static str,
    /// Its weight (the block's weights sum to 100).
    pub weight: f64,
    /// Whether the score counts `1 - value` (lower is better).
    pub inverted: bool,
}

/// One group's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    /// The group.
    pub group: String,
    /// Its display name, where the policy gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The score, 0–100; `None` when none of the weighted metrics has a value.
    pub score: Option<f64>,
    /// The weights of the metrics that had a value (100 when all did).
    pub weight_counted: f64,
}

/// The scores of one `assess` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreTable {
    /// What is scored: `department`, `category` or a level.
    pub by: String,
    /// The block's metrics and weights, in source order.
    pub weights: Vec<Weight>,
    /// One row per group with at least one event, by group id.
    pub rows: Vec<ScoreRow>,
}

/// A `target` line against the district-wide value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetResult {
    /// The metric's name.
    pub metric: &'static str,
    /// The comparison (`>=`).
    pub op: &'static str,
    /// The bound (shares as fractions).
    pub bound: f64,
    /// The district-wide value; `None` when no case counts for it.
    pub value: Option<f64>,
    /// Whether the value meets the bound (`false` without a value).
    pub met: bool,
}

/// An operator as written.
pub fn op_str(op: Op) -> &'static str {
    match op {
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

/// A group's score under weights: `100 × Σ (w / W) × v` over the weighted
/// metrics that have a value, `v` being `1 − value` where lower is better
/// and `W` the sum of their weights. With every metric present `W` is 100
/// and this is the plain weighted sum; a metric without a value (no case
/// counts for it) is left out and the others keep their proportions.
/// Returns the score and `W`.
pub fn score(values: &Values, weights: &[(Metric, f64)]) -> (Option<f64>, f64) {
    let mut sum = 0.0;
    let mut counted = 0.0;
    for &(m, w) in weights {
        if let Some(v) = values.get(m) {
            let v = if m.lower_is_better() { 1.0 - v } else { v };
            sum += w * v;
            counted += w;
        }
    }
    if counted > 0.0 {
        (Some(100.0 * sum / counted), counted)
    } else {
        (None, 0.0)
    }
}

pub(super) fn scores(policy: &Policy, groups: &[GroupTable]) -> Vec<ScoreTable> {
    policy
        .assessments
        .iter()
        .map(|a| {
            let by = group_name(policy, a.by);
            let rows = groups
                .iter()
                .find(|t| t.by == by)
                .map(|t| {
                    t.rows
                        .iter()
                        .map(|r| {
                            let (score, weight_counted) = score(&r.values, &a.weights);
                            ScoreRow {
                                group: r.group.clone(),
                                name: r.name.clone(),
                                score,
                                weight_counted,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            ScoreTable {
                by,
                weights: a
                    .weights
                    .iter()
                    .map(|&(m, weight)| Weight {
                        metric: m.name(),
                        weight,
                        inverted: m.lower_is_better(),
                    })
                    .collect(),
                rows,
            }
        })
        .collect()
}

pub(super) fn targets(policy: &Policy, district: &Values) -> Vec<TargetResult> {
    policy
        .targets
        .iter()
        .map(|t| {
            let value = district.get(t.metric);
            TargetResult {
                metric: t.metric.name(),
                op: op_str(t.op),
                bound: t.bound,
                value,
                met: value.is_some_and(|v| compare(Val::Num(v), t.op, Val::Num(t.bound))),
            }
        })
        .collect()
}

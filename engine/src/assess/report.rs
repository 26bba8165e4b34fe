//! [`Report`]: what a [`Tally`] says, per group, as data that serialises to
//! JSON (and that the command line prints as tables).

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::score::{ScoreTable, TargetResult, scores, targets};
use super::tally::{Acc, Groups, Tally};
use crate::model::{GroupBy, Metric, Policy};

/// Every built-in metric of one group. A share or mean is `None` when no
/// case of the group counts for it (no feedback yet, nothing resolved).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Values {
    /// Events.
    pub count: u64,
    /// Share accepted by the respond deadline.
    pub on_time_response: Option<f64>,
    /// Share resolved by the resolve deadline.
    pub on_time_resolution: Option<f64>,
    /// Share past a deadline.
    pub overdue_rate: Option<f64>,
    /// Share of feedback ratings of 4 or 5.
    pub satisfaction: Option<f64>,
    /// Share resolved by the first unit that received them.
    pub first_contact: Option<f64>,
    /// Share raised by the ladder at least once.
    pub escalation_rate: Option<f64>,
    /// Share reopened at least once.
    pub reopen_rate: Option<f64>,
    /// Share reported by `patrol` or `sensor`.
    pub active_discovery: Option<f64>,
    /// Share resolved at grid or community level.
    pub source_resolution: Option<f64>,
    /// Mean hours from report to resolution.
    pub mean_resolution_hours: Option<f64>,
}

impl Values {
    pub(crate) fn of(acc: &Acc) -> Values {
        Values {
            count: acc.count,
            on_time_response: acc.value(Metric::OnTimeResponse),
            on_time_resolution: acc.value(Metric::OnTimeResolution),
            overdue_rate: acc.value(Metric::OverdueRate),
            satisfaction: acc.value(Metric::Satisfaction),
            first_contact: acc.value(Metric::FirstContact),
            escalation_rate: acc.value(Metric::EscalationRate),
            reopen_rate: acc.value(Metric::ReopenRate),
            active_discovery: acc.value(Metric::ActiveDiscovery),
            source_resolution: acc.value(Metric::SourceResolution),
            mean_resolution_hours: acc.value(Metric::MeanResolutionHours),
        }
    }

    /// The value of one metric (`count` as a number).
    pub fn get(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::Count => Some(self.count as f64),
            Metric::OnTimeResponse => self.on_time_response,
            Metric::OnTimeResolution => self.on_time_resolution,
            Metric::OverdueRate => self.overdue_rate,
            Metric::Satisfaction => self.satisfaction,
            Metric::FirstContact => self.first_contact,
            Metric::EscalationRate => self.escalation_rate,
            Metric::ReopenRate => self.reopen_rate,
            Metric::ActiveDiscovery => self.active_discovery,
            Metric::SourceResolution => self.source_resolution,
            Metric::MeanResolutionHours => self.mean_resolution_hours,
        }
    }
}

/// One group's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    /// The group: a department's or category's name, a unit's id.
    pub group: String,
    /// Its display name, where the policy gives one: a department's or a
    /// category's, or an area's `name` in `areas.yaml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its metrics.
    #[serde(flatten)]
    pub values: Values,
}

/// The rows of one kind of group, by group id (byte order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupTable {
    /// `department`, `category`, or a level's name.
    pub by: String,
    /// One row per group with at least one event.
    pub rows: Vec<GroupRow>,
}

/// The policy a report was made under.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyRef {
    /// Header name.
    pub name: String,
    /// Header version.
    pub version: String,
    /// `sha256:` content hash.
    pub hash: String,
}

/// The period a report covers, as the caller that chose it says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodRef {
    /// As written (`2026-06`).
    pub label: String,
    /// First instant of the period.
    pub from: Timestamp,
    /// First instant after it.
    pub until: Timestamp,
    /// The instant the cases' facts were taken at.
    pub facts_at: Timestamp,
}

/// What an assessment says: every metric per group, the scores of the
/// `assess` blocks, and each `target` met or missed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The policy whose weights and targets were applied.
    pub policy: PolicyRef,
    /// The period (set by the caller; `None` when not about one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<PeriodRef>,
    /// District-wide metrics (every event once).
    pub district: Values,
    /// One table per kind of group: `department`, each level lowest first,
    /// then `category`.
    pub groups: Vec<GroupTable>,
    /// One table per `assess` block, in source order.
    pub scores: Vec<ScoreTable>,
    /// Each `target`, in source order.
    pub targets: Vec<TargetResult>,
}

impl Report {
    /// The table of one kind of group (`department`, `category`, a level).
    pub fn table(&self, by: &str) -> Option<&GroupTable> {
        self.groups.iter().find(|t| t.by == by)
    }

    /// Keeps only the group table and score tables of one kind of group.
    pub fn only(mut self, by: &str) -> Report {
        self.groups.retain(|t| t.by == by);
        self.scores.retain(|t| t.by == by);
        self
    }
}

/// The name of a kind of group, as `by` in reports and queries.
pub fn group_name(policy: &Policy, by: GroupBy) -> String {
    match by {
        GroupBy::Department => "department".into(),
        GroupBy::Category => "category".into(),
        GroupBy::Level(l) => policy
            .levels
            .get(l as usize)
            .map_or_else(|| format!("level {l}"), |n| n.to_string()),
    }
}

/// The kind of group a `by` names: `department`, `category` or a level.
pub fn parse_group(policy: &Policy, by: &str) -> Option<GroupBy> {
    match by {
        "department" => Some(GroupBy::Department),
        "category" => Some(GroupBy::Category),
        level => policy.level_id(level).map(GroupBy::Level),
    }
}

/// A group's display name: a department's or a category's, or the name
/// `areas.yaml` gives an area.
pub(crate) fn display(policy: &Policy, by: GroupBy, id: &str) -> Option<String> {
    let d: Option<&Arc<str>> = match by {
        GroupBy::Department => policy
            .dept_id(id)
            .and_then(|d| policy.departments.get(d as usize))
            .and_then(|d| d.display.as_ref()),
        GroupBy::Category => policy.category(id).and_then(|(_, r)| r.display.as_ref()),
        GroupBy::Level(_) => return policy.areas.name(id).map(str::to_string),
    };
    d.map(|s| s.to_string())
}

fn table(policy: &Policy, by: GroupBy, groups: &Groups) -> GroupTable {
    let mut rows: Vec<GroupRow> = groups
        .iter()
        .map(|(id, acc)| GroupRow {
            group: id.to_string(),
            name: display(policy, by, id),
            values: Values::of(acc),
        })
        .collect();
    rows.sort_by(|a, b| a.group.cmp(&b.group));
    GroupTable {
        by: group_name(policy, by),
        rows,
    }
}

pub(super) fn build(t: &Tally, policy: &Policy) -> Report {
    let mut groups = Vec::with_capacity(t.levels.len() + 2);
    groups.push(table(policy, GroupBy::Department, &t.departments));
    for (l, map) in t.levels.iter().enumerate() {
        let level = u8::try_from(l).unwrap_or(u8::MAX);
        groups.push(table(policy, GroupBy::Level(level), map));
    }
    groups.push(table(policy, GroupBy::Category, &t.categories));
    let district = Values::of(&t.all);
    let scores = scores(policy, &groups);
    let targets = targets(policy, &district);
    Report {
        policy: PolicyRef {
            name: policy.name.to_string(),
            version: policy.version.to_string(),
            hash: policy.hash.to_string(),
        },
        period: None,
        district,
        groups,
        scores,
        targets,
    }
}

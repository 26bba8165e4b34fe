//! The JSON form of a decision (`schemas/decision.schema.json`).
//!
//! Deadlines are written in RFC 3339 with the policy time zone's UTC offset
//! at that instant (LANGUAGE.md section 4).

use jiff::Timestamp;
use serde::Serialize;

use crate::decide::Decision;
use crate::model::Policy;

/// The policy that made a decision.
#[derive(Debug, Serialize)]
pub struct PolicyRef<'a> {
    /// Header name.
    pub name: &'a str,
    /// Header version.
    pub version: &'a str,
    /// Content hash.
    pub hash: &'a str,
    /// Header effective date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective: Option<&'a str>,
}

/// A planned ladder step.
#[derive(Debug, Serialize)]
pub struct StepView<'a> {
    /// When it fires (`null` for `when` steps).
    pub at: Option<String>,
    /// The trigger as written.
    pub step: &'a str,
    /// The actions as written.
    pub actions: Vec<&'a str>,
}

/// A traced policy line.
#[derive(Debug, Serialize)]
pub struct TraceView<'a> {
    /// What it did.
    pub what: &'a str,
    /// File.
    pub file: &'a str,
    /// Line.
    pub line: u32,
    /// Column.
    pub col: u32,
}

/// A decision with names instead of indices, ready to serialise.
#[derive(Debug, Serialize)]
pub struct DecisionView<'a> {
    /// The event's id.
    pub event_id: &'a str,
    /// The policy that decided it.
    pub policy: PolicyRef<'a>,
    /// The category as reported.
    pub category: &'a str,
    /// Grade.
    pub grade: &'a str,
    /// Level.
    pub level: &'a str,
    /// Unit id, or null when unknown.
    pub unit: Option<&'a str>,
    /// Lead department.
    pub lead: &'a str,
    /// Cooperating departments.
    pub assist: Vec<&'a str>,
    /// Settled on the spot.
    pub on_the_spot: bool,
    /// Routed by the fallback.
    pub fallback: bool,
    /// Accept by.
    pub respond_by: String,
    /// Resolve by.
    pub resolve_by: String,
    /// Planned ladder.
    pub ladder: Vec<StepView<'a>>,
    /// The lines that shaped it.
    pub trace: Vec<TraceView<'a>>,
}

/// Formats an instant with the policy time zone's offset.
pub fn instant(policy: &Policy, t: Timestamp) -> String {
    let offset = policy.calendar.time_zone().to_offset(t);
    t.display_with_offset(offset).to_string()
}

impl Decision {
    /// The decision with names resolved against the policy that made it.
    pub fn view<'a>(&'a self, policy: &'a Policy) -> DecisionView<'a> {
        let name = |v: &'a [std::sync::Arc<str>], i: usize| v.get(i).map_or("?", |s| &**s);
        let dept = |d: u16| policy.departments.get(d as usize).map_or("?", |x| &*x.name);
        let ladder = policy.ladder_for(self.grade);
        DecisionView {
            event_id: &self.event_id,
            policy: PolicyRef {
                name: &policy.name,
                version: &policy.version,
                hash: &policy.hash,
                effective: policy.effective.as_deref(),
            },
            category: &self.category,
            grade: policy
                .grades
                .get(self.grade as usize)
                .map_or("?", |g| &*g.name),
            level: name(&policy.levels, self.level as usize),
            unit: self.unit.as_deref(),
            lead: dept(self.lead),
            assist: self.assist.iter().map(|&d| dept(d)).collect(),
            on_the_spot: self.on_the_spot,
            fallback: self.fallback,
            respond_by: instant(policy, self.respond_by),
            resolve_by: instant(policy, self.resolve_by),
            ladder: self
                .ladder
                .iter()
                .filter_map(|p| {
                    let s = ladder.steps.get(p.step as usize)?;
                    Some(StepView {
                        at: p.at.map(|t| instant(policy, t)),
                        step: &s.label,
                        actions: s.action_labels.iter().map(|a| &**a).collect(),
                    })
                })
                .collect(),
            trace: self
                .trace
                .iter()
                .filter_map(|&s| {
                    let site = policy.sites.get(s as usize)?;
                    Some(TraceView {
                        what: &site.what,
                        file: &site.file,
                        line: site.line,
                        col: site.col,
                    })
                })
                .collect(),
        }
    }

    /// The decision as one line of JSON.
    pub fn to_json(&self, policy: &Policy) -> String {
        serde_json::to_string(&self.view(policy)).unwrap_or_default()
    }

    /// The decision as a JSON value.
    pub fn to_value(&self, policy: &Policy) -> serde_json::Value {
        serde_json::to_value(self.view(policy)).unwrap_or_default()
    }
}

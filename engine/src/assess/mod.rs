//! Assessment (LANGUAGE.md sections 3.6 and 6): the built-in metrics of
//! event histories per department, per unit of each level and per
//! category; the weighted score of each `assess` block; each `target` met
//! or missed.
//!
//! A caller takes each case's [`Facts`](crate::lifecycle::Facts) at one
//! instant (for a period: its end, or now if earlier — see
//! [`Period::facts_at`]) and adds them to a [`Tally`]; tallies of disjoint
//! sets of cases [`merge`](Tally::merge); [`Tally::report`] turns one into a
//! [`Report`].
//!
//! ```
//! use whistle_engine::assess::{Period, Tally};
//! # use whistle_engine::{compile, decide, Context, lifecycle::Case, event::parse_event, windows::NoHistory};
//! # use whistle_grammar::bundle::{from_files, BundleFile};
//! # let text = r#"
//! # policy "demo" { version "1" timezone "Asia/Shanghai" }
//! # levels grid < street
//! # grades blue
//! # grade blue { level grid respond 2h resolve 24h }
//! # department urban "城管" { level street }
//! # category litter { lead urban grade blue }
//! # fallback { lead urban grade blue }
//! # assess department { on_time_response weight 100 }
//! # "#;
//! # let bundle = from_files(vec![BundleFile { path: "p.whistle".into(), bytes: text.into() }]);
//! # let policy = compile(&bundle).policy.unwrap();
//! let period = Period::parse("2026-06", policy.calendar.time_zone()).unwrap();
//! let ev = parse_event(r#"{"id":"E1","category":"litter","grid":"G1",
//!   "reported_at":"2026-06-03T10:00:00+08:00"}"#).unwrap();
//! let d = decide(&policy, &ev, &Context::default());
//! let (case, _) = Case::open(&policy, ev, &d, d.reported_at, &NoHistory);
//! let mut tally = Tally::new(&policy);
//! tally.add(&policy, &case, &case.facts(period.until));
//! let report = tally.report(&policy);
//! // Never accepted, long past its 2-hour respond limit at the period's end:
//! assert_eq!(report.district.on_time_response, Some(0.0));
//! assert_eq!(report.scores[0].rows[0].score, Some(0.0));
//! ```
//!
//! # Scores
//!
//! `score = 100 × Σ weight/100 × value` over the block's metrics, where a
//! metric whose lower values are better (`overdue_rate`,
//! `escalation_rate`, `reopen_rate`) counts as `1 − value`. A group where
//! some weighted metric has no value (no case counts for it: no feedback
//! yet, nothing resolved) is scored on the metrics that have one, their
//! weights scaled up to 100 ([`ScoreRow::weight_counted`] says how much
//! weight was present); with none it has no score.
//!
//! # Targets
//!
//! Each `target` compares the district-wide value (every event of the
//! period once) with its bound; without a value it is not met.

pub mod csv;
mod period;
mod report;
pub(crate) use report::display;
mod score;
mod tally;

pub use period::{Period, PeriodError};
pub use report::{
    GroupRow, GroupTable, PeriodRef, PolicyRef, Report, Values, group_name, parse_group,
};
pub use score::{ScoreRow, ScoreTable, TargetResult, Weight, op_str, score};
pub use tally::{Tally, UNKNOWN_UNIT};

pub(crate) use tally::Numbers;
#[cfg(test)]
pub(crate) use tally::share_parts;
pub(crate) use tally::{resolution_secs, share_index};

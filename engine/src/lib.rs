//! # whistle-engine
//!
//! The meaning of a Whistle policy: static checks and compilation of a parsed
//! bundle into a [`Policy`], and [`decide`] — grade, level, unit, lead and
//! assisting departments, on-the-spot handling, working-time deadlines, the
//! planned escalation ladder and a trace of every line that shaped the
//! decision.
//!
//! The engine is pure and deterministic: it knows no files, HTTP, database or
//! async runtime, and takes time only as input. The server and the simulator
//! run this very code.
//!
//! ```
//! use whistle_engine::{compile, decide, event::parse_event, Context};
//! use whistle_grammar::bundle::{from_files, BundleFile};
//!
//! let text = r#"
//! policy "demo" { version "1" timezone "Asia/Shanghai" }
//! levels grid < community < street
//! grades blue < red
//! grade blue { level grid respond 2h resolve 24h }
//! grade red  { level street respond 30m resolve 72h }
//! department urban "城管" { level street }
//! category fire_lane { lead urban  grade red when attr.people_trapped > 0  grade blue }
//! fallback { lead urban grade blue }
//! "#;
//! let bundle = from_files(vec![BundleFile { path: "p.whistle".into(), bytes: text.into() }]);
//! let compiled = compile(&bundle);
//! let policy = compiled.policy.expect("the policy compiles");
//! let ev = parse_event(r#"{"id":"E1","category":"fire_lane","grid":"G1",
//!   "reported_at":"2025-06-03T10:00:00+08:00","attr":{"people_trapped":1}}"#).unwrap();
//! let d = decide(&policy, &ev, &Context::default());
//! assert_eq!(d.view(&policy).grade, "red");
//! assert_eq!(d.view(&policy).respond_by, "2025-06-03T10:30:00+08:00");
//! ```

pub mod alerts;
pub mod assess;
mod buckets;
pub mod calendar;
pub mod compile;
pub mod cond;
pub mod decide;
pub mod decision_json;
pub mod diff;
pub mod event;
mod inline;
pub mod lifecycle;
pub mod model;
mod prefetch;
mod radix;
pub mod render;
pub(crate) mod round;
pub mod router;
pub mod sim;
mod strict_event;
pub mod testing;
mod times;
pub mod unique_json;
pub mod windows;

pub use compile::{Compiled, compile, compile_texts};
pub use decide::{Context, Decision, decide, decide_in};
pub use model::Policy;

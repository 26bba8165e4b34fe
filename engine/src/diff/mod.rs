//! Comparing two policies before a rollout (DESIGN.md, job 2 of a policy
//! officer): what changed in the text, what changed in meaning, and what the
//! change does to real events.
//!
//! - [`text`]: a unified diff of the two bundles' files.
//! - [`semantic`]: the changes in meaning — categories, routes, grades,
//!   limits, departments, ladders, lists, thresholds, weights, targets,
//!   calendar — each rendered in words a policy officer reads
//!   (`fire_lane: lead urban → fire; red resolve 72h → 48h`).
//! - [`impact`]: the same events decided under both policies, each with its
//!   own `repeats` history, and what would be decided differently.
//!
//! Everything here is pure: bundles and events come in, values go out. The
//! command line (`whistle diff`) and the server's preview call the same code.
//!
//! ```
//! use whistle_engine::{compile, diff};
//! use whistle_grammar::bundle::{from_files, BundleFile};
//!
//! let policy = |lead: &str| {
//!     let text = format!(r#"
//! policy "demo" {{ version "1" }}
//! levels grid < street
//! grades blue < red
//! grade blue {{ level grid respond 2h resolve 24h }}
//! grade red  {{ level street respond 30m resolve 72h }}
//! department urban "城管" {{ level street }}
//! department fire  "消防" {{ level street }}
//! category fire_lane {{ lead {lead}  assist urban, fire  grade blue }}
//! fallback {{ lead urban grade blue }}
//! "#);
//!     let bundle = from_files(vec![BundleFile { path: "p.whistle".into(), bytes: text.into() }]);
//!     (compile(&bundle).policy.expect("compiles"), bundle)
//! };
//! let ((old, old_b), (new, new_b)) = (policy("urban"), policy("fire"));
//! let words = diff::semantic(&old, &new).to_string();
//! assert!(words.contains("fire_lane: lead urban → fire"), "{words}");
//! assert_eq!(diff::text(&old_b, &new_b).files.len(), 1);
//! ```

mod calendar;
mod categories;
mod impact;
mod oversight;
mod replay;
mod report;
mod semantic;
mod table;
mod text;
mod words;

use serde::Serialize;

use crate::model::Policy;

pub use impact::{
    CategoryImpact, DepartmentLoad, Example, Field, FieldCounts, Impact, ImpactOptions, Pair,
    Rejected, Shift, Shifts, impact,
};
pub use replay::ImpactBuilder;
pub use semantic::{Change, ChangeKind, Section, SemanticDiff, semantic, semantic_with_sources};
pub use text::{FileDiff, TextDiff, text};

/// Which policy a comparison is about: its header and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    /// Header name.
    pub name: String,
    /// Header version.
    pub version: String,
    /// `sha256:` content hash of the bundle.
    pub hash: String,
}

impl PolicyInfo {
    /// The header and hash of a compiled policy.
    pub fn of(p: &Policy) -> PolicyInfo {
        PolicyInfo {
            name: p.name.to_string(),
            version: p.version.to_string(),
            hash: p.hash.to_string(),
        }
    }
}

//! # whistle-grammar
//!
//! The Whistle policy language up to the typed syntax tree: the pest grammar
//! (`whistle.pest`), lowering into an AST where every node keeps its span,
//! diagnostics that render like a compiler's, the canonical formatter, and
//! loading of policy bundles (a directory of `.whistle` files plus
//! `areas.yaml` and an optional `event.schema.json`).
//!
//! This crate knows nothing of events or time; the engine gives the tree its
//! meaning.
//!
//! ```
//! use whistle_grammar::{bundle, diag};
//! let b = bundle::from_files(vec![bundle::BundleFile {
//!     path: "p.whistle".into(),
//!     bytes: b"levels grid < community\ngrades blue < red\n".to_vec(),
//! }]);
//! assert!(b.diagnostics.is_empty());
//! assert_eq!(b.files[0].1.decls.len(), 2);
//! # let _ = diag::render(&b.diagnostics, &b.sources, false);
//! ```

pub mod areas;
pub mod ast;
pub mod bundle;
pub mod diag;
pub mod fmt;
mod lower;
pub mod parse;
pub mod source;

pub use lower::{escape, unescape};

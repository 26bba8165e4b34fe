//! # whistle-server
//!
//! The `whistle` binary's library: the command line (`check`, `fmt`,
//! `test`, `route`, `serve`, `verify`) and the server that decides every
//! incoming event, keeps it durably, follows it through its whole life and
//! fires every escalation step on time.
//!
//! The engine decides and moves cases; this crate wires it to the world:
//! HTTP ([`api`]), the store ([`store`]), timers ([`timers`]), webhooks and
//! live subscribers ([`outbox`], [`stream`]), hot reload of the policy
//! ([`reload`]).

pub mod alerts;
pub mod api;
pub mod assessment;
pub mod cli;
pub mod config;
pub mod ingest;
pub mod listen;
pub mod outbox;
pub mod reload;
pub mod replace;
pub mod serve;
pub mod state;
pub mod store;
pub mod stream;
pub mod timers;

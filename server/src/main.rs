//! `whistle`: check, format, test and route Whistle policies, and serve them.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use whistle_server::cli;

// Routing allocates and frees many small strings per event on two threads;
// mimalloc's per-thread free lists make that a fraction of glibc's cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Whistle — the policy engine for grid-based community governance.
#[derive(Parser)]
#[command(name = "whistle", version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy bundle: syntax, names, relief conflicts, weights, schema.
    Check(cli::check::CheckArgs),
    /// Format policy files in the canonical layout.
    Fmt(cli::fmt::FmtArgs),
    /// Run the `test` blocks of a bundle.
    Test(cli::test::TestArgs),
    /// Decide events (JSON lines) under a policy, one decision per line.
    Route(cli::route::RouteArgs),
    /// Compare two bundles: text, meaning, and (with --replay) decisions.
    Diff(cli::diff::DiffArgs),
    /// Run the server: decide, store and follow every event.
    Serve(cli::serve::ServeArgs),
    /// Simulate a period of events against a draft policy, beside a baseline.
    Simulate(cli::simulate::SimulateArgs),
    /// Assessment of a period from a data directory: metrics, scores, targets.
    Assess(cli::assess::AssessArgs),
    /// Check a data directory's store: the journal's hash chain (against an anchor too) and every page.
    Verify(cli::verify::VerifyArgs),
    /// Make a new access token and the hash to put in the config.
    Token(cli::token::TokenArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let code = match args.command {
        Command::Check(a) => cli::check::run(&a),
        Command::Fmt(a) => cli::fmt::run(&a),
        Command::Test(a) => cli::test::run(&a),
        Command::Route(a) => cli::route::run(&a),
        Command::Diff(a) => cli::diff::run(&a),
        Command::Serve(a) => cli::serve::run(&a),
        Command::Simulate(a) => cli::simulate::run(&a),
        Command::Assess(a) => cli::assess::run(&a),
        Command::Verify(a) => cli::verify::run(&a),
        Command::Token(a) => cli::token::run(&a),
    };
    ExitCode::from(code)
}

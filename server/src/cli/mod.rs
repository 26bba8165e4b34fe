//! The subcommands, and what they share: loading a bundle and showing diagnostics.

/// `eprintln!` that never panics: with standard error closed (`2>&1 |
/// head`) the message is lost, not the run and its exit code.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that never panics: a reader that stops early (`| head`)
/// loses the rest, and the command still ends with its own exit code.
macro_rules! put {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that never panics (see `put!`).
macro_rules! put_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprint!` that never panics (see `say!`).
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod assess;
pub mod check;
pub mod diff;
pub mod fmt;
pub mod jsonl;
pub mod route;
pub mod serve;
pub mod simulate;
pub mod test;
pub mod token;
pub mod verify;

use std::io::IsTerminal;
use std::path::Path;

use whistle_engine::{Compiled, compile};
use whistle_grammar::bundle::{self, Bundle};
use whistle_grammar::diag::{self, Diagnostic};

/// Exit code: everything is fine.
pub const OK: u8 = 0;
/// Exit code: the input has errors (diagnostics, failed tests, bad event lines).
pub const FAILED: u8 = 1;
/// Exit code: the command could not run (unreadable path, invalid policy for `route`).
pub const CANNOT_RUN: u8 = 2;

/// Whether to colour output on stderr.
pub fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Loads and compiles a bundle; `Err` carries a message for a bundle that cannot be read.
pub fn load(path: &Path) -> Result<(Bundle, Compiled), String> {
    let b = bundle::load(path).map_err(|e| e.to_string())?;
    let c = compile(&b);
    Ok((b, c))
}

/// Prints diagnostics to stderr with a closing count.
pub fn print_diagnostics(b: &Bundle, diags: &[Diagnostic]) {
    if diags.is_empty() {
        return;
    }
    say_part!("{}", diag::render(diags, &b.sources, color_stderr()));
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    say!("{errors} error(s), {warnings} warning(s)");
}

/// Loads and compiles a bundle for a command that needs a working policy.
/// On failure it prints why (the read error, or the diagnostics and
/// `what_not_done`) and returns the exit code to use.
pub fn load_valid(path: &Path, what_not_done: &str, code_if_invalid: u8) -> Result<Compiled, u8> {
    let (b, c) = load(path).map_err(|msg| {
        say!("error: {msg}");
        CANNOT_RUN
    })?;
    if c.policy.is_none() {
        print_diagnostics(&b, &c.diagnostics);
        // Named: the draft and the baseline of a simulation share their
        // files' names, and the diagnostics give paths inside the bundle.
        say!(
            "error: the policy `{}` has errors; {what_not_done}",
            path.display()
        );
        return Err(code_if_invalid);
    }
    Ok(c)
}

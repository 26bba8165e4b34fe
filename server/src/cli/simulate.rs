//! `whistle simulate --scenario S.yaml --policy DRAFT [--baseline ACTIVE] [--seed N] [--out DIR]`
//!
//! Runs the scenario under the draft and, beside it, the baseline — in
//! parallel, one thread each, over the same arrival stream — then prints
//! the summary and writes `report.json`, `report.html` and the CSV tables.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use whistle_engine::Policy;
use whistle_engine::event::Event;
use whistle_engine::router::prepare;
use whistle_engine::sim::report::{csv, html};
use whistle_engine::sim::{
    self, Options, Plan, Progress, Replay, Report, Role, RunReport, ScenarioErrors, Skip,
};

use super::{CANNOT_RUN, FAILED, OK};

/// Arguments of `whistle simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// The scenario (YAML; see schemas/scenario.schema.json and docs/SIMULATION.md).
    #[arg(long)]
    pub scenario: PathBuf,
    /// The draft policy bundle.
    #[arg(long)]
    pub policy: PathBuf,
    /// The policy to compare with (usually the active one).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// The random seed (overrides the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Scale the synthetic arrivals to about this many events over the period.
    #[arg(long, value_parser = events_arg)]
    pub events: Option<f64>,
    /// Where to write report.json, report.html and the CSV tables.
    #[arg(long, default_value = "simulation")]
    pub out: PathBuf,
    /// No progress bar and no summary table.
    #[arg(long)]
    pub quiet: bool,
}

/// `--events`: a number of events, above 0 and at most
/// [`sim::setup::MAX_EVENTS`].
fn events_arg(text: &str) -> Result<f64, String> {
    let n: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if n > 0.0 && n <= sim::setup::MAX_EVENTS {
        Ok(n)
    } else {
        Err(format!(
            "the number of events is above 0 and at most {:.0}",
            sim::setup::MAX_EVENTS
        ))
    }
}

/// Why a simulation could not run.
#[derive(Debug)]
pub enum SimError {
    /// The scenario is wrong (a user's mistake: exit 1, HTTP 422).
    Scenario(ScenarioErrors),
    /// Something could not be read or written.
    Io(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Scenario(e) => write!(f, "{e}"),
            SimError::Io(e) => f.write_str(e),
        }
    }
}

/// Everything ready to run: the plan and each policy with its staffing.
pub struct Prepared {
    /// The scenario's plan.
    pub plan: Plan,
    /// The draft, with the scenario's area tree.
    pub draft: (Policy, sim::Staffing),
    /// The baseline, likewise.
    pub baseline: Option<(Policy, sim::Staffing)>,
}

/// Parses and checks a scenario against the policies. `dir` is where the
/// scenario's relative file names start (`None`: files are not allowed).
pub fn prepare_scenario(
    yaml: &str,
    dir: Option<&Path>,
    draft: &Policy,
    baseline: Option<&Policy>,
    options: Options,
) -> Result<Prepared, SimError> {
    let scenario = sim::parse(yaml).map_err(SimError::Scenario)?;
    // A file that cannot be read is not the scenario's mistake (exit 2).
    let mut unreadable = false;
    let mut read = |name: &str| -> Result<String, String> {
        let Some(dir) = dir else {
            return Err(format!(
                "`{name}`: a scenario sent over HTTP cannot name files"
            ));
        };
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| {
            unreadable = true;
            format!("cannot read `{}`: {e}", path.display())
        })
    };
    let plan = sim::plan(&scenario, draft, options, &mut read);
    let plan = match plan {
        Ok(p) => p,
        Err(e) if unreadable => return Err(SimError::Io(e.to_string())),
        Err(e) => return Err(SimError::Scenario(e)),
    };
    if plan.replay.is_some() && dir.is_none() {
        return Err(SimError::Scenario(
            sim::ScenarioError::at(
                "replay.file",
                "a scenario sent over HTTP cannot replay a file",
            )
            .into(),
        ));
    }
    let draft_p = sim::with_areas(&plan, draft);
    let draft_s = sim::staff(&plan, &draft_p, Role::Draft).map_err(SimError::Scenario)?;
    let baseline = match baseline {
        None => None,
        Some(b) => {
            let p = sim::with_areas(&plan, b);
            let s = sim::staff(&plan, &p, Role::Baseline).map_err(SimError::Scenario)?;
            Some((p, s))
        }
    };
    Ok(Prepared {
        plan,
        draft: (draft_p, draft_s),
        baseline,
    })
}

/// Reads a replayed log: each line parsed and checked against `policy`'s
/// `attr` schema; a bad line becomes a [`Skip`]. A file that fails part
/// way stops the run: a year simulated on part of the log would pass for
/// the whole.
fn replay_lines<'a>(
    path: &Path,
    policy: &'a Policy,
    failed: &'a std::cell::Cell<Option<String>>,
) -> Result<impl Iterator<Item = Result<(u64, Event), Skip>> + 'a, String> {
    let name = path.display().to_string();
    let mut lines = super::jsonl::open(&name).map_err(|e| format!("`replay.file`: {e}"))?;
    Ok(std::iter::from_fn(move || {
        let line = match lines.next()? {
            Ok(l) => l,
            Err(e) => {
                // A line too long names its own line.
                let said = if e.kind() == std::io::ErrorKind::InvalidData {
                    format!("`replay.file`: `{name}`: {e}")
                } else {
                    format!(
                        "`replay.file`: cannot read `{name}` after line {}: {e}",
                        lines.lines_read()
                    )
                };
                failed.set(Some(said));
                return None;
            }
        };
        let number = line.number;
        Some(
            line.text()
                .and_then(|t| prepare(policy, t))
                .map(|ev| (number, ev))
                .map_err(|e| Skip {
                    line: number,
                    reason: e.0,
                }),
        )
    }))
}

fn run_one(
    prepared: &Prepared,
    role: Role,
    dir: Option<&Path>,
    progress: &(dyn Fn(Role, Progress) + Sync),
) -> Result<RunReport, String> {
    let (policy, staff) = match role {
        Role::Draft => &prepared.draft,
        Role::Baseline => prepared
            .baseline
            .as_ref()
            .ok_or_else(|| "no baseline".to_string())?,
    };
    let plan = &prepared.plan;
    let mut report = |p: Progress| progress(role, p);
    match (&plan.replay, dir) {
        (Some(file), Some(dir)) => {
            let path = dir.join(file);
            let failed = std::cell::Cell::new(None);
            let lines = replay_lines(&path, policy, &failed)?;
            let mut replay = Replay::new(
                lines,
                plan.run_from,
                plan.end,
                plan.category_index.clone(),
                4096,
            )
            .in_zone(plan.tz.clone());
            let mut run = sim::Run::new(policy, plan, staff);
            run.run(&mut replay, &mut report);
            if let Some(e) = failed.take() {
                return Err(e);
            }
            if let Some((late, all)) = replay.out_of_order() {
                return Err(format!(
                    "`replay.file`: {late} of the {all} events of `{file}` in the period are out of time order by 4,096 lines or more: it is not a log in time order (newest first? several run together?); sort it by `reported_at`"
                ));
            }
            let mut r = run.into_report(role);
            let outside = replay.outside();
            if r.totals.events == 0 {
                // A log of another year, or of nothing: no report to make.
                let why = r
                    .skipped_first
                    .first()
                    .map(|s| format!("; the first skipped: {s}"))
                    .unwrap_or_default();
                return Err(format!(
                    "`replay.file`: no event of `{file}` falls in the period {} to {} ({outside} outside it, {} line(s) skipped{why})",
                    plan.from, plan.to, r.skipped
                ));
            }
            if outside > 0 {
                let warmup = if plan.warmup_days > 0 {
                    " and its warm-up"
                } else {
                    ""
                };
                r.notes.push(format!(
                    "{outside} event(s) of `{file}` reported outside the period{warmup} were left out"
                ));
            }
            Ok(r)
        }
        _ => Ok(sim::run_synthetic(policy, plan, staff, role, &mut report)),
    }
}

/// Runs the draft and the baseline in parallel (one thread each) and
/// builds the report.
pub fn simulate(
    prepared: &Prepared,
    dir: Option<&Path>,
    progress: &(dyn Fn(Role, Progress) + Sync),
) -> Result<Report, String> {
    let (draft, baseline) = std::thread::scope(|s| {
        let base = prepared
            .baseline
            .as_ref()
            .map(|_| s.spawn(|| run_one(prepared, Role::Baseline, dir, progress)));
        let draft = run_one(prepared, Role::Draft, dir, progress);
        let baseline = base.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the baseline run stopped unexpectedly".into()))
        });
        (draft, baseline)
    });
    let baseline = baseline.transpose()?;
    Ok(Report::new(&prepared.plan, draft?, baseline))
}

/// Makes the report's directory, or says why it cannot be written to.
fn out_dir_ready(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "`{}` is a file; --out names a directory for the report",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    // Creating the directory does not prove it takes files.
    let probe = dir.join(".whistle-write-test");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot write into `{}`: {e}", dir.display()))
}

/// Writes `report.json`, `report.html` and the CSV tables into `dir`.
pub fn write_report(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let mut files = vec![
        ("report.json".to_string(), report.to_json()),
        ("report.html".to_string(), html::page(report)),
    ];
    files.extend(csv::tables(report));
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Runs `whistle simulate`.
pub fn run(a: &SimulateArgs) -> u8 {
    let began = Instant::now();
    let yaml = match std::fs::read_to_string(&a.scenario) {
        Ok(t) => t,
        Err(e) => {
            say!("error: cannot read `{}`: {e}", a.scenario.display());
            return CANNOT_RUN;
        }
    };
    let draft = match super::load_valid(&a.policy, "nothing was simulated", CANNOT_RUN) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let baseline = match &a.baseline {
        None => None,
        Some(p) => match super::load_valid(p, "nothing was simulated", CANNOT_RUN) {
            Ok(c) => Some(c),
            Err(code) => return code,
        },
    };
    let (Some(draft), baseline) = (
        &draft.policy,
        baseline.as_ref().and_then(|c| c.policy.as_ref()),
    ) else {
        return CANNOT_RUN;
    };
    let dir = a
        .scenario
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let options = Options {
        seed: a.seed,
        events: a.events,
    };
    let prepared = match prepare_scenario(&yaml, Some(&dir), draft, baseline, options) {
        Ok(p) => p,
        Err(SimError::Scenario(errors)) => {
            // `events` is the command line's `--events` here (a job's
            // field over HTTP): said as the option, and a command line
            // that alone is wrong exits as one.
            let mut only_options = true;
            for e in &errors.0 {
                if e.path == "events" {
                    // A message that names the option already is not
                    // prefixed with it again.
                    let message = e.message.replace("`events`", "`--events`");
                    if message.starts_with("`--events`") {
                        say!("error: {message}");
                    } else {
                        say!("error: `--events`: {message}");
                    }
                } else {
                    only_options = false;
                    say!("error: {}: {e}", a.scenario.display());
                }
            }
            return if only_options { CANNOT_RUN } else { FAILED };
        }
        // A file the scenario names (`areas.file`): said as the
        // scenario's own mistakes are, after the scenario's name.
        Err(SimError::Io(e)) => {
            say!("error: {}: {e}", a.scenario.display());
            return CANNOT_RUN;
        }
    };
    for (_, s) in std::iter::once(&prepared.draft).chain(prepared.baseline.as_ref()) {
        for n in &s.notes {
            say!("note: {n}");
        }
    }
    // A report that cannot be written is found out before the run, not
    // after a year's simulation.
    if let Err(e) = out_dir_ready(&a.out) {
        say!("error: {e}; nothing was simulated");
        return CANNOT_RUN;
    }
    let runs = 1 + u64::from(prepared.baseline.is_some());
    let bar = progress_bar(a.quiet, runs);
    let done = [AtomicU64::new(0), AtomicU64::new(0)];
    let events = [AtomicU64::new(0), AtomicU64::new(0)];
    let progress = |role: Role, p: Progress| {
        let i = usize::from(role == Role::Baseline);
        done[i].store((p.fraction * 1000.0) as u64, Ordering::Relaxed);
        events[i].store(p.events, Ordering::Relaxed);
        bar.set_position(done[0].load(Ordering::Relaxed) + done[1].load(Ordering::Relaxed));
        // Each policy's own count: both run over the same events, and
        // their sum would read as twice the scenario's volume.
        let draft = events[0].load(Ordering::Relaxed);
        bar.set_message(if runs > 1 {
            format!(
                "events: draft {draft}, baseline {}",
                events[1].load(Ordering::Relaxed)
            )
        } else {
            format!("{draft} events")
        });
    };
    let started = Instant::now();
    let report = match simulate(&prepared, Some(&dir), &progress) {
        Ok(r) => r,
        // The replayed log (`replay.file`) the scenario names.
        Err(e) => {
            bar.abandon();
            say!("error: {}: {e}", a.scenario.display());
            return CANNOT_RUN;
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let written = match write_report(&report, &a.out) {
        Ok(w) => w,
        Err(e) => {
            say!("error: {e}");
            return CANNOT_RUN;
        }
    };
    let total: u64 =
        report.draft.totals.events + report.baseline.as_ref().map_or(0, |b| b.totals.events);
    if !a.quiet {
        put_part!("{}", report.table());
    }
    // Each run checks the log against its own policy's `attr` schema, so
    // the runs may skip different lines: said once when they agree.
    let skipping: Vec<(&str, &RunReport)> = std::iter::once(("draft", &report.draft))
        .chain(report.baseline.as_ref().map(|b| ("baseline", b)))
        .filter(|(_, r)| r.skipped > 0)
        .collect();
    let agree = skipping.windows(2).all(|w| {
        (w[0].1.skipped, &w[0].1.skipped_first) == (w[1].1.skipped, &w[1].1.skipped_first)
    });
    for (role, run) in skipping.iter().take(if agree { 1 } else { 2 }) {
        say!(
            "warning: {}{} replayed line{} skipped, not simulated: {}{}",
            if agree {
                String::new()
            } else {
                format!("{role}: ")
            },
            run.skipped,
            if run.skipped == 1 { "" } else { "s" },
            run.skipped_first.join("; "),
            match run.skipped.saturating_sub(run.skipped_first.len() as u64) {
                0 => String::new(),
                more => format!("; and {more} more"),
            },
        );
    }
    let events = report.draft.totals.events;
    // The rate counts the period's events only: a warm-up's are not in it.
    let warmup = match report.scenario.warmup_days {
        0 => String::new(),
        n => format!(" (after a {n}-day warm-up)"),
    };
    // The rate is the runs' own; the whole takes in reading the policies
    // and the scenario, generating the area tree and writing the report.
    let whole = began.elapsed().as_secs_f64();
    say!(
        "simulated {events} event{}{warmup} under {} {} in {elapsed:.1} s ({:.0} events/s; {whole:.1} s in all); report in {}",
        if events == 1 { "" } else { "s" },
        runs,
        if runs == 1 { "policy" } else { "policies" },
        total as f64 / elapsed.max(1e-9),
        a.out.join("report.html").display()
    );
    let _ = written;
    OK
}

fn progress_bar(quiet: bool, runs: u64) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(1000 * runs), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}%  {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

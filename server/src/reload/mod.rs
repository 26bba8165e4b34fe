//! Hot reload: every trigger — the bundle directory changing on disk, a
//! `SIGHUP`, `POST /v1/policy/reload`, a rollout or a rollback from the API
//! — becomes one job for one reload task, so reloads never race. A job
//! reads the bundle, checks and compiles it off the request path, and
//! swaps it in atomically only when it has no errors; a broken policy never
//! replaces a working one. Every version that goes live is recorded in the
//! store (files, hash, who, a summary in words) and in the journal's hash
//! chain before it serves its first request.

pub mod files;
pub mod watch;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use whistle_engine::Policy;
use whistle_engine::windows::RepeatIndex;
use whistle_grammar::bundle::{self, BundleFile};
use whistle_grammar::diag;

use crate::store::{PolicyVersion, Store};
use crate::stream::Hub;
use files::Draft;

/// What a job asks for.
#[derive(Debug, Clone)]
pub enum Request {
    /// Read the bundle directory as it is.
    Reload,
    /// Check a draft; only if it has no errors, write it into the bundle and load it.
    Rollout {
        /// The files.
        draft: Draft,
        /// The version the draft was made from: a file of the draft that
        /// changed on disk since is a conflict, not overwritten.
        base: Option<Base>,
    },
    /// Write back the files of a stored version (by hash) and load them.
    Rollback {
        /// The version's hash.
        hash: String,
        /// Whether bundle files that differ from the live version (a
        /// refused save, a file being written) may be overwritten or
        /// removed; without it they make the rollback a conflict.
        discard: bool,
    },
}

/// The version (`sha256:` hash) a rollout's files were made from: one for
/// the whole draft, or one per file (an editor that loaded a newer version
/// midway has files made from each).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(
    untagged,
    expecting = "`base` is a version's hash (\"sha256:…\") or an object of file path → version hash"
)]
pub enum Base {
    /// Every file of the draft.
    One(String),
    /// Path → the version that file was made from.
    PerFile(std::collections::BTreeMap<String, String>),
}

impl Base {
    /// The version `path` was made from, if one is named.
    pub fn of(&self, path: &str) -> Option<&str> {
        match self {
            Base::One(h) => Some(h),
            Base::PerFile(m) => m.get(path).map(String::as_str),
        }
    }

    /// Checks a base against its draft: every hash a version's (64 hex
    /// digits, `sha256:` or not), and a per-file base only about files
    /// the draft writes or deletes (one about another file would check
    /// nothing, silently).
    pub fn check(&self, draft: &Draft) -> Result<(), String> {
        let hashes: Vec<&String> = match self {
            Base::One(h) => vec![h],
            Base::PerFile(m) => m.values().collect(),
        };
        for h in hashes {
            if !is_version_hash(h) {
                return Err(format!(
                    "`base`: \"{h}\" is not a version's hash (\"sha256:\" and 64 hex digits, as GET /v1/policy gives)"
                ));
            }
        }
        if let Base::PerFile(m) = self {
            for path in m.keys() {
                let known = files::checked_path(path).is_ok_and(|p| {
                    draft.write.iter().any(|(w, _)| *w == p) || draft.delete.contains(&p)
                });
                if !known {
                    return Err(format!(
                        "`base` names `{path}`, which the draft neither writes nor deletes"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The same with every hash in full (`sha256:` added where left out).
    pub fn full(self) -> Base {
        match self {
            Base::One(h) => Base::One(full_hash(&h)),
            Base::PerFile(m) => {
                Base::PerFile(m.into_iter().map(|(p, h)| (p, full_hash(&h))).collect())
            }
        }
    }
}

/// Whether `hash` has a version hash's form: 64 hex digits, `sha256:` or not.
pub fn is_version_hash(hash: &str) -> bool {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A version's hash in full: `sha256:` added where a caller left it out.
pub fn full_hash(hash: &str) -> String {
    if hash.starts_with("sha256:") {
        hash.to_string()
    } else {
        format!("sha256:{hash}")
    }
}

/// A version that went live, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Live {
    /// `sha256:` content hash.
    pub hash: String,
    /// The policy's name and version line.
    pub name: String,
    /// Its `version`.
    pub version: String,
    /// When it went live.
    pub activated_at: Timestamp,
    /// Who or what made it live.
    pub by: String,
    /// What changed, in words.
    pub summary: String,
}

/// How a job ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A new version is live.
    Applied {
        /// The new version.
        version: Live,
        /// The hash it replaced.
        previous: String,
        /// Its warnings: it went live all the same.
        #[serde(flatten)]
        warnings: Warnings,
    },
    /// The bundle is the version already live.
    Unchanged {
        /// Its hash.
        hash: String,
        /// Its warnings.
        #[serde(flatten)]
        warnings: Warnings,
    },
    /// The bundle (or draft) has errors; the live version stays.
    Rejected {
        /// How many errors.
        errors: usize,
        /// Every diagnostic, as data (file, line, column, code, message).
        diagnostics: serde_json::Value,
        /// The same, rendered like `whistle check`.
        rendered: String,
    },
    /// A rollback to a version the store does not hold.
    UnknownVersion {
        /// The hash asked for.
        hash: String,
    },
    /// The bundle on disk changed in a way the request did not know of;
    /// nothing was written.
    Conflict {
        /// What happened, for a person.
        message: String,
        /// The bundle files concerned.
        files: Vec<String>,
    },
    /// Reading, writing or recording failed; the live version stays.
    Failed {
        /// Why.
        message: String,
    },
}

impl Outcome {
    /// The outcome's name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Applied { .. } => "applied",
            Outcome::Unchanged { .. } => "unchanged",
            Outcome::Rejected { .. } => "rejected",
            Outcome::UnknownVersion { .. } => "unknown_version",
            Outcome::Conflict { .. } => "conflict",
            Outcome::Failed { .. } => "failed",
        }
    }
}

/// The warnings of a version that compiled. They do not stop it going
/// live, so an officer who saved a file in an editor sees them nowhere but
/// here and in the log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Warnings {
    /// How many.
    pub warnings: usize,
    /// Each, as data (file, line, column, code, message).
    pub diagnostics: serde_json::Value,
    /// The same, rendered like `whistle check`.
    pub rendered: String,
}

/// The last job's result, served at `GET /v1/policy/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// When it finished.
    pub at: Timestamp,
    /// Who or what asked.
    pub by: String,
    /// Milliseconds from the job's start to its end.
    pub took_ms: f64,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

struct Job {
    request: Request,
    by: String,
    reply: Option<oneshot::Sender<Outcome>>,
}

/// Where reloads are asked for.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Job>,
    /// The bundle directory.
    pub dir: PathBuf,
    status: Arc<RwLock<Option<Status>>>,
}

impl Handle {
    /// Runs a job and waits for its outcome.
    pub async fn run(&self, request: Request, by: impl Into<String>) -> Outcome {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            request,
            by: by.into(),
            reply: Some(reply),
        };
        if self.tx.send(job).await.is_err() {
            return Outcome::Failed {
                message: "the server is shutting down".into(),
            };
        }
        rx.await.unwrap_or_else(|_| Outcome::Failed {
            message: "the server is shutting down".into(),
        })
    }

    /// Asks for a reload without waiting (the file watcher, `SIGHUP`). A
    /// reload already queued will read the newest files anyway, so a full
    /// queue just drops this one.
    pub fn trigger(&self, by: &str) {
        let _ = self.tx.try_send(Job {
            request: Request::Reload,
            by: by.into(),
            reply: None,
        });
    }

    /// The last job's result, if any ran.
    pub fn status(&self) -> Option<Status> {
        self.status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What the reload task works on.
pub struct Deps {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The policy in force.
    pub policy: Arc<ArcSwap<Policy>>,
    /// Persistence (versions, journal; events to rebuild `repeats` windows).
    pub store: Arc<dyn Store>,
    /// `repeats` windows.
    pub history: Arc<Mutex<RepeatIndex>>,
    /// Live subscribers.
    pub hub: Hub,
}

/// Starts the reload task.
pub fn spawn(deps: Deps) -> Handle {
    let (tx, mut rx) = mpsc::channel::<Job>(64);
    let status = Arc::new(RwLock::new(None));
    let handle = Handle {
        tx,
        dir: deps.dir.clone(),
        status: status.clone(),
    };
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let started = Instant::now();
            let outcome = run_job(&deps, &job).await;
            let took_ms = started.elapsed().as_secs_f64() * 1000.0;
            let draft = matches!(job.request, Request::Rollout { .. });
            let mut last = status
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mended = matches!(
                (last.as_ref().map(|s| &s.outcome), &outcome),
                (Some(Outcome::Rejected { .. }), Outcome::Unchanged { .. })
            );
            report(&deps, &job.by, &outcome, took_ms, draft, mended);
            if says_of_the_bundle(&outcome, draft) && !echo(last.as_ref(), &outcome) {
                *last = Some(Status {
                    at: Timestamp::now(),
                    by: job.by.clone(),
                    took_ms,
                    outcome: outcome.clone(),
                });
            }
            drop(last);
            if let Some(reply) = job.reply {
                let _ = reply.send(outcome);
            }
        }
    });
    handle
}

/// Whether `outcome` tells of the bundle on disk, and so belongs in the
/// status. A request refused with nothing written (a rollback to a version
/// not held, a conflict, a rollout's draft with errors) is answered to
/// whoever asked, logged and streamed, but must not hide from the status
/// a broken save that is still on disk.
fn says_of_the_bundle(outcome: &Outcome, draft: bool) -> bool {
    match outcome {
        Outcome::UnknownVersion { .. } | Outcome::Conflict { .. } => false,
        Outcome::Rejected { .. } => !draft,
        Outcome::Applied { .. } | Outcome::Unchanged { .. } | Outcome::Failed { .. } => true,
    }
}

/// Whether `outcome` only finds live what the last job made live: the
/// file watcher seeing a rollout's own writes, say. The status keeps
/// saying what happened rather than "unchanged".
fn echo(last: Option<&Status>, outcome: &Outcome) -> bool {
    let Outcome::Unchanged { hash, .. } = outcome else {
        return false;
    };
    match last.map(|s| &s.outcome) {
        Some(Outcome::Applied { version, .. }) => version.hash == *hash,
        Some(Outcome::Unchanged { hash: before, .. }) => before == hash,
        _ => false,
    }
}

/// Logs, counts and publishes a job's outcome. `draft`: the job checked a
/// rollout's draft, which is written only when it has no errors, so a
/// refusal leaves the bundle on disk (and the gauge saying whether it is
/// live) as it was. `mended`: the last outcome was a refused bundle, and
/// this one finds the live version on disk again.
fn report(deps: &Deps, by: &str, outcome: &Outcome, took_ms: f64, draft: bool, mended: bool) {
    metrics::counter!("whistle_policy_reloads_total", "outcome" => outcome.name()).increment(1);
    match outcome {
        Outcome::Applied {
            version,
            previous,
            warnings,
        } => {
            metrics::gauge!("whistle_policy_last_reload_ok").set(1.0);
            tracing::info!(
                "policy {} is live (was {previous}; by {by}; {took_ms:.1} ms): {}",
                version.hash,
                version.summary
            );
            if warnings.warnings > 0 {
                let first = warnings.rendered.lines().next().unwrap_or("");
                tracing::warn!(
                    "policy {} went live with {} warning(s). First: {first} (all of them: GET /v1/policy/status)",
                    version.hash,
                    warnings.warnings
                );
            }
        }
        Outcome::Unchanged { hash, .. } => {
            // The bundle on disk is the live version again (a broken save
            // reverted): nothing is wrong any more.
            metrics::gauge!("whistle_policy_last_reload_ok").set(1.0);
            if mended {
                tracing::info!(
                    "policy reload by {by}: the bundle on disk is the live version {hash} again; the refused save is gone"
                );
            } else {
                tracing::debug!("policy reload by {by}: {hash} is already live");
            }
        }
        Outcome::Rejected {
            errors, rendered, ..
        } => {
            if !draft {
                metrics::gauge!("whistle_policy_last_reload_ok").set(0.0);
            }
            // One line, as log collectors read them: the first error, and
            // where the rest are.
            let first = rendered.lines().next().unwrap_or("");
            tracing::warn!(
                "policy reload by {by} rejected, {errors} error(s); the live version stays. First: {first} (all of them: GET /v1/policy/status)"
            );
        }
        Outcome::UnknownVersion { hash } => {
            // `by` is `rollback by <token>` already.
            tracing::warn!("{by}: no version {hash} is stored; nothing changed");
        }
        Outcome::Conflict { message, .. } => {
            tracing::warn!("{by} refused: {message}");
        }
        Outcome::Failed { message } => {
            metrics::gauge!("whistle_policy_last_reload_ok").set(0.0);
            tracing::error!("policy reload by {by} failed; the live version stays: {message}");
        }
    }
    if !matches!(outcome, Outcome::Unchanged { .. }) {
        let body = serde_json::json!({"by": by, "took_ms": took_ms, "result": outcome});
        deps.hub.publish("policy", body.to_string());
    }
}

async fn run_job(deps: &Deps, job: &Job) -> Outcome {
    let (files, kind) = match &job.request {
        Request::Reload => (None, "policy_reload"),
        Request::Rollout { draft, base } => {
            if let Some(base) = base
                && let Err(o) = unchanged_since(deps, base, draft).await
            {
                return o;
            }
            (Some(draft.clone()), "policy_rollout")
        }
        Request::Rollback { hash, discard } => {
            if !discard && let Err(o) = nothing_unsaved(deps).await {
                return o;
            }
            match rollback_draft(deps, hash).await {
                Ok(d) => (Some(d), "policy_rollback"),
                Err(o) => return o,
            }
        }
    };
    if let Some(draft) = files {
        // A draft is checked before a byte of it reaches the bundle: a
        // broken draft leaves the directory as it was.
        let dir = deps.dir.clone();
        let d = draft.clone();
        let checked = blocking(move || {
            let current = bundle::read_dir(&dir).map_err(|e| e.to_string())?;
            Ok(build(d.over(current)))
        })
        .await;
        match checked {
            Ok(Built::Ok(..)) => {}
            Ok(Built::Rejected(o)) => return o,
            Err(message) => return Outcome::Failed { message },
        }
        let dir = deps.dir.clone();
        if let Err(message) = blocking(move || files::write(&dir, &draft)).await {
            return Outcome::Failed { message };
        }
    }
    load(deps, &job.by, kind).await
}

/// The files of a stored version (`hash` in full), or the outcome that it
/// is not stored.
async fn stored_files(deps: &Deps, hash: &str) -> Result<Vec<(String, String)>, Outcome> {
    match deps.store.policy_version(hash).await {
        Ok(Some(v)) => Ok(v.files),
        Ok(None) => Err(Outcome::UnknownVersion {
            hash: hash.to_string(),
        }),
        Err(e) => Err(Outcome::Failed {
            message: e.to_string(),
        }),
    }
}

async fn read_bundle(deps: &Deps) -> Result<Vec<BundleFile>, Outcome> {
    let dir = deps.dir.clone();
    blocking(move || bundle::read_dir(&dir).map_err(|e| e.to_string()))
        .await
        .map_err(|message| Outcome::Failed { message })
}

/// A rollout made from `base`: each file it writes or deletes must still
/// be on disk as it was in its base version, or someone else's change to
/// it would be undone without their knowing.
async fn unchanged_since(deps: &Deps, base: &Base, draft: &Draft) -> Result<(), Outcome> {
    let now = read_bundle(deps).await?;
    let mut versions: std::collections::BTreeMap<&str, Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    let mut touched = Vec::new();
    let paths = draft.write.iter().map(|(p, _)| p).chain(&draft.delete);
    for path in paths {
        // A file without a base of its own is not checked (a caller that
        // names bases per file names those it read).
        let Some(hash) = base.of(path) else { continue };
        // Already as the draft would leave it (the same rollout sent again
        // after a lost answer): writing it undoes nothing.
        if files::text_of(&draft.write, path) == files::bytes_of(&now, path) {
            continue;
        }
        if !versions.contains_key(hash) {
            let files = stored_files(deps, hash).await.map_err(|o| match o {
                Outcome::UnknownVersion { hash } => Outcome::Conflict {
                    message: format!(
                        "the draft was made from `{hash}`, a version this server does not hold; load the live version and make the change again"
                    ),
                    files: vec![path.clone()],
                },
                other => other,
            })?;
            versions.insert(hash, files);
        }
        let then = versions.get(hash).map_or(&[][..], Vec::as_slice);
        if files::text_of(then, path) != files::bytes_of(&now, path) {
            touched.push(path.clone());
        }
    }
    if touched.is_empty() {
        return Ok(());
    }
    Err(Outcome::Conflict {
        message: format!(
            "{} changed since the draft was made: rolling it out would undo that change; load the file again and redo your edit on it",
            files::list(&touched)
        ),
        files: touched,
    })
}

/// Before a rollback overwrites the bundle: every file on disk must be
/// the live version's, or work that never went live (a save that was
/// refused, a file being written) would be lost without a trace.
async fn nothing_unsaved(deps: &Deps) -> Result<(), Outcome> {
    let hash = deps.policy.load().hash.to_string();
    let live = stored_files(deps, &hash).await?;
    let now = read_bundle(deps).await?;
    let differ = files::differing(&live, &now);
    if differ.is_empty() {
        return Ok(());
    }
    let (verb, them) = if differ.len() == 1 {
        ("differs", "it")
    } else {
        ("differ", "them")
    };
    Err(Outcome::Conflict {
        message: format!(
            "{} on disk {verb} from the live version (a refused save, or work in progress): a rollback would overwrite or remove {them}; save {them} elsewhere, or roll back with `discard=true`",
            files::list(&differ),
        ),
        files: differ,
    })
}

async fn rollback_draft(deps: &Deps, hash: &str) -> Result<Draft, Outcome> {
    let files = stored_files(deps, hash).await?;
    let dir = deps.dir.clone();
    blocking(move || files::exactly(&dir, &files))
        .await
        .map_err(|message| Outcome::Failed { message })
}

enum Built {
    Ok(Box<Policy>, Vec<(String, String)>, Warnings),
    Rejected(Outcome),
}

/// Parses, checks and compiles bundle files.
fn build(files: Vec<BundleFile>) -> Built {
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                String::from_utf8_lossy(&f.bytes).into_owned(),
            )
        })
        .collect();
    let bundle = bundle::from_files(files);
    let c = whistle_engine::compile(&bundle);
    let all = &c.diagnostics;
    let picked = |errors: bool| {
        let diags: Vec<_> = all
            .iter()
            .filter(|d| d.is_error() == errors)
            .cloned()
            .collect();
        Warnings {
            warnings: diags.len(),
            diagnostics: serde_json::to_value(diag::to_json(&diags, &bundle.sources))
                .unwrap_or_default(),
            rendered: diag::render(&diags, &bundle.sources, false),
        }
    };
    match c.policy {
        Some(p) => Built::Ok(Box::new(p), texts, picked(false)),
        None => {
            let e = picked(true);
            Built::Rejected(Outcome::Rejected {
                errors: e.warnings,
                diagnostics: e.diagnostics,
                rendered: e.rendered,
            })
        }
    }
}

/// Reads the bundle directory and, if it compiles and differs from the
/// live version, records it and swaps it in.
async fn load(deps: &Deps, by: &str, kind: &str) -> Outcome {
    let dir = deps.dir.clone();
    let built = blocking(move || {
        let files = bundle::read_dir(&dir).map_err(|e| e.to_string())?;
        Ok(build(files))
    })
    .await;
    let (new, texts, warnings) = match built {
        Ok(Built::Ok(p, t, w)) => (p, t, w),
        Ok(Built::Rejected(o)) => return o,
        Err(message) => return Outcome::Failed { message },
    };
    let old = deps.policy.load_full();
    if *new.hash == *old.hash {
        return Outcome::Unchanged {
            hash: new.hash.to_string(),
            warnings,
        };
    }
    let live = Live {
        hash: new.hash.to_string(),
        name: new.name.to_string(),
        version: new.version.to_string(),
        activated_at: Timestamp::now(),
        by: by.to_string(),
        summary: summary(&old, &new),
    };
    // On record first: a version serves no request before the store knows it.
    let record = PolicyVersion {
        hash: live.hash.clone(),
        activated_at: live.activated_at,
        by: live.by.clone(),
        files: texts,
        summary: live.summary.clone(),
    };
    if let Err(e) = deps.store.record_policy(&record).await {
        return Outcome::Failed {
            message: format!("cannot record the version: {e}"),
        };
    }
    let entry = serde_json::json!({
        "by": by,
        "old_hash": &*old.hash,
        "new_hash": &*new.hash,
        "summary": &live.summary,
    });
    if let Err(e) = deps.store.append_journal(kind, entry).await {
        return Outcome::Failed {
            message: format!("cannot journal the version: {e}"),
        };
    }
    if let Err(message) = swap(deps, &old, *new).await {
        return Outcome::Failed { message };
    }
    Outcome::Applied {
        version: live,
        previous: old.hash.to_string(),
        warnings,
    }
}

/// The earliest report the `repeats` windows of `policy` need now, for
/// events reported up to `late` seconds late.
pub fn history_since(policy: &Policy, late: u64) -> Timestamp {
    let back = policy.max_repeats_window.saturating_add(late);
    let back = i64::try_from(back).unwrap_or(i64::MAX);
    Timestamp::now()
        .checked_sub(SignedDuration::from_secs(back))
        .unwrap_or(Timestamp::MIN)
}

/// Swaps the policy in, with `repeats` windows it can use. The history is
/// locked across the swap so that no event is decided by the new policy
/// against windows built for the old one (ingest takes the same lock
/// before it loads the policy).
async fn swap(deps: &Deps, old: &Policy, new: Policy) -> Result<(), String> {
    let covered = new.max_repeats_window <= old.max_repeats_window
        && old.repeats_asked.covers(&new.repeats_asked)
        && new
            .repeats_levels
            .iter()
            .all(|l| old.repeats_levels.contains(l));
    if covered {
        // The windows kept for the old policy reach as far back, by every
        // grouping and for every category, as the new one asks.
        let _guard = deps
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        deps.policy.store(Arc::new(new));
        return Ok(());
    }
    // The new policy looks further back, groups by another level or asks
    // about a category the old one never recorded: its
    // windows are rebuilt from the store, with ingest held off meanwhile so
    // that no event falls between the rebuild and the swap.
    let store = deps.store.clone();
    let history = deps.history.clone();
    let policy = deps.policy.clone();
    let rt = tokio::runtime::Handle::current();
    blocking(move || {
        let mut guard = history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // As late as the windows being replaced allowed (the server's
        // `late_report_hours`).
        let late = guard.late_seconds();
        let since = history_since(&new, late);
        let events = rt
            .block_on(store.events_since(since))
            .map_err(|e| format!("cannot rebuild the repeats windows: {e}"))?;
        let mut index = RepeatIndex::for_policy(&new).late_within(late);
        for ev in &events {
            index.record(ev, new.units_of(&ev.grid));
        }
        *guard = index;
        policy.store(Arc::new(new));
        Ok(())
    })
    .await
}

/// What changed, in words, for the version list.
fn summary(old: &Policy, new: &Policy) -> String {
    let diff = whistle_engine::diff::semantic(old, new);
    if diff.is_empty() {
        return "no change in meaning (layout or comments only)".into();
    }
    diff.to_string()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("a reload task failed: {e}"))?
}

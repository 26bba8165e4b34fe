//! Starting the server: load and compile the policy, open the store,
//! rebuild the `repeats` windows and the escalation timers from it, start
//! the background tasks, and listen. Only a failure here is fatal.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use jiff::Timestamp;
use whistle_engine::windows::RepeatIndex;
use whistle_grammar::bundle::BundleFile;

use crate::api::{self, auth::Auth};
use crate::config::Config;
use crate::state::AppState;
use crate::store::sqlite::SqliteStore;
use crate::store::{PolicyVersion, Store};
use crate::stream::Hub;
use crate::{ingest, outbox, reload, timers};

/// What `whistle serve` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The policy bundle.
    pub policy: PathBuf,
    /// The data directory of the embedded store.
    pub data: PathBuf,
    /// The configuration (listen address overridden by `listen` below).
    pub config: Config,
}

/// Loads, checks and compiles the bundle; an error message lists the diagnostics.
pub fn load_policy(path: &Path) -> Result<(whistle_engine::Policy, Vec<(String, String)>), String> {
    let files = whistle_grammar::bundle::read_dir(path).map_err(|e| e.to_string())?;
    compile_files(files)
}

/// Compiles bundle files; `Err` carries the rendered diagnostics.
fn compile_files(
    files: Vec<BundleFile>,
) -> Result<(whistle_engine::Policy, Vec<(String, String)>), String> {
    let texts = files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                String::from_utf8_lossy(&f.bytes).into_owned(),
            )
        })
        .collect();
    let bundle = whistle_grammar::bundle::from_files(files);
    let c = whistle_engine::compile(&bundle);
    match c.policy {
        Some(p) => Ok((p, texts)),
        None => Err(whistle_grammar::diag::render(
            &c.diagnostics,
            &bundle.sources,
            false,
        )),
    }
}

/// The version that went live last, compiled again from its stored files:
/// what a restart serves when the files on disk were saved broken (a
/// reload refused them; a restart must not make them fatal).
async fn last_good(store: &dyn Store) -> Option<(whistle_engine::Policy, PolicyVersion)> {
    let v = store.policy_versions().await.ok()?.into_iter().next()?;
    let files = v
        .files
        .iter()
        .map(|(path, text)| BundleFile {
            path: path.clone(),
            bytes: text.clone().into_bytes(),
        })
        .collect();
    let (p, _) = compile_files(files).ok()?;
    Some((p, v))
}

/// Everything built at start-up, ready to serve.
pub struct Server {
    /// The shared state.
    pub state: AppState,
    timers: timers::Timers,
    /// Held while the server runs: one server per data directory.
    lock: std::fs::File,
}

/// Takes the data directory for this process alone. Two servers on one
/// store would each keep their own timers and windows over the same open
/// events; the second is refused instead. The lock goes with the process,
/// however it ends.
///
/// On Unix the lock is on the directory itself: a lock on a file in it
/// would be lost with the file (deleted by hand, or by a clean-up), and a
/// second server would then make a new file and take that.
fn lock_data(dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the data directory `{}`: {e}", dir.display()))?;
    #[cfg(unix)]
    let (file, held) = (
        std::fs::File::open(dir).map_err(|e| format!("cannot open `{}`: {e}", dir.display()))?,
        dir.to_path_buf(),
    );
    #[cfg(not(unix))]
    let (file, held) = {
        let path = dir.join("whistle.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
        (file, path)
    };
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another `whistle serve` is using the data directory `{}` (it holds a lock on `{}`); stop it, or give this one its own `--data`",
            dir.display(),
            held.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock `{}`: {e}", held.display()))
        }
    }
}

/// An open server (no tokens) may only listen on loopback.
fn exposure(config: &Config) -> Result<(), String> {
    let listen = config.listen;
    if config.tokens.is_empty() && !listen.ip().is_loopback() {
        return Err(format!(
            "no tokens are configured, so the server runs open and may only listen on loopback, not {listen}; add [[tokens]] to the config (see `whistle token`)"
        ));
    }
    Ok(())
}

/// Builds the server: opens the store and rebuilds what lives in memory.
pub async fn build(opts: &Options) -> Result<Server, String> {
    // Refused before the data directory is touched.
    exposure(&opts.config)?;
    // A rollout or an editor's save cut short by a crash left its
    // temporary beside the policy files (an hour is far longer than any
    // write takes).
    for f in crate::replace::sweep_temporaries(&opts.policy, std::time::Duration::from_secs(3600)) {
        tracing::info!(
            "removed {}, left by a write that did not finish",
            f.display()
        );
    }
    let on_disk = load_policy(&opts.policy);
    // A broken bundle and no store yet: nothing to fall back on, and no
    // reason to create the store.
    if let Err(e) = &on_disk
        && !opts.data.exists()
    {
        // The diagnostics name themselves as errors; the last line says
        // what became of the server.
        return Err(format!(
            "{}\nerror: the policy in {} has errors, and no earlier version is stored to start on: the server did not start",
            e.trim_end(),
            opts.policy.display()
        ));
    }
    let lock = lock_data(&opts.data)?;
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(
            &opts.data,
            opts.config
                .webhooks
                .iter()
                .map(|w| w.name.clone())
                .collect(),
        )
        .await
        .map_err(|e| e.to_string())?,
    );
    let (policy, files, fell_back) = match on_disk {
        Ok((p, f)) => (p, f, false),
        Err(errors) => {
            let Some((p, v)) = last_good(store.as_ref()).await else {
                return Err(errors);
            };
            tracing::warn!(
                "the policy in {} has errors, so the server starts on the version that went live last, {} ({}, {} by {}); fix the files and they are reloaded. The errors: {} (all of them, with their lines: GET /v1/policy/status)",
                opts.policy.display(),
                v.hash,
                // One log entry, one line: the summary is written for a page.
                v.summary
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
                v.activated_at,
                v.by,
                headlines(&errors)
            );
            (p, v.files, true)
        }
    };
    // Record the policy version if it is new to this store.
    let versions = store.policy_versions().await.map_err(|e| e.to_string())?;
    if versions.first().is_none_or(|v| *v.hash != *policy.hash) {
        let v = PolicyVersion {
            hash: policy.hash.to_string(),
            activated_at: Timestamp::now(),
            by: "startup".into(),
            summary: format!(
                "{} {} ({} categories)",
                policy.name,
                policy.version,
                policy.categories.len()
            ),
            files,
        };
        store.record_policy(&v).await.map_err(|e| e.to_string())?;
    }
    // `repeats` windows: the events the longest window can still see,
    // for an event reported now or as late as the configuration allows.
    let late = opts.config.late_report_hours.saturating_mul(3600);
    let mut history = RepeatIndex::for_policy(&policy).late_within(late);
    let since = crate::reload::history_since(&policy, late);
    for ev in store.events_since(since).await.map_err(|e| e.to_string())? {
        history.record(&ev, policy.units_of(&ev.grid));
    }
    let policy = Arc::new(ArcSwap::from_pointee(policy));
    let history = Arc::new(Mutex::new(history));
    let hub = Hub::new();
    // Before the monitor is rebuilt: the alerts its replay stores at
    // start are counted like the live ones.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .ok();
    crate::alerts::start(policy.clone(), store.clone(), hub.clone()).await?;
    let timers = timers::Timers::new();
    // Timers: every open case's next step.
    let open = store.open_cases().await.map_err(|e| e.to_string())?;
    for (_, case) in &open {
        if let Some(due) = case.next_due() {
            timers.handle().schedule(case.event.id.to_string(), due);
        }
    }
    let ingest = ingest::spawn(ingest::Deps {
        policy: policy.clone(),
        store: store.clone(),
        history: history.clone(),
        hub: hub.clone(),
        timers: timers.handle(),
        batch_max: opts.config.batch_max,
    });
    let reload = reload::spawn(reload::Deps {
        dir: opts.policy.clone(),
        policy: policy.clone(),
        store: store.clone(),
        history: history.clone(),
        hub: hub.clone(),
    });
    // Series an alert rule may watch are there from the start: a rule on
    // a series that is missing never fires.
    metrics::gauge!("whistle_policy_last_reload_ok").set(1.0);
    for w in &opts.config.webhooks {
        metrics::counter!("whistle_webhook_failures_total", "webhook" => w.name.clone())
            .absolute(0);
    }
    if fell_back {
        // The refusal of the files on disk, on `/v1/policy/status` and
        // in the metrics, as a reload would have left it: recorded before
        // the server says it is ready.
        reload.run(reload::Request::Reload, "startup").await;
    }
    let state = AppState {
        policy,
        store,
        history,
        ingest,
        timers: timers.handle(),
        hub,
        config: Arc::new(opts.config.clone()),
        auth: Arc::new(Auth::new(&opts.config.tokens)),
        metrics,
        reload,
        ready: Arc::new(AtomicBool::new(false)),
        redeciding: Arc::default(),
    };
    {
        let p = state.policy.load();
        tracing::info!(
            "policy \"{}\" {} ({}) from {}; store in {}",
            p.name,
            p.version,
            p.hash,
            opts.policy.display(),
            opts.data.display()
        );
    }
    if opts.config.tokens.is_empty() {
        tracing::warn!(
            "no tokens are configured: every request is allowed (loopback only); see `whistle token`"
        );
    } else {
        tracing::info!("{} token(s) configured", opts.config.tokens.len());
    }
    tracing::info!("{} open events, timers armed", open.len());
    Ok(Server {
        state,
        timers,
        lock,
    })
}

/// Listens at once, answering that it is starting (`/healthz` 200, the
/// rest 503) while [`build`] reads the store, which takes seconds with a
/// large backlog, then serves the API until SIGINT or SIGTERM.
pub async fn build_and_run(opts: &Options) -> Result<(), String> {
    exposure(&opts.config)?;
    let listening = Listening::bind(&opts.config).await?;
    match build(opts).await {
        Ok(server) => server.serve(listening).await,
        Err(e) => {
            listening.stop().await;
            Err(e)
        }
    }
}

/// The socket, served from the moment it is bound.
struct Listening {
    at: std::net::SocketAddr,
    app: Arc<ArcSwap<axum::Router>>,
    stop: tokio::sync::oneshot::Sender<()>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Listening {
    async fn bind(config: &Config) -> Result<Listening, String> {
        let listen = config.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let at = listener.local_addr().map_or(listen, |a| a);
        tracing::info!("bound to {at}; answering 503 `starting` until the store is read");
        let app = Arc::new(ArcSwap::from_pointee(api::starting()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let header_timeout = std::time::Duration::from_millis(config.header_timeout_ms);
        let accepting = tokio::spawn(crate::listen::serve(
            listener,
            app.clone(),
            header_timeout,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Listening {
            at,
            app,
            stop,
            accepting,
        })
    }

    /// Stops taking connections and waits for those open.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.accepting.await;
    }
}

impl Server {
    /// Starts the background tasks and serves until SIGINT or SIGTERM.
    pub async fn run(self) -> Result<(), String> {
        let listening = Listening::bind(&self.state.config).await?;
        self.serve(listening).await
    }

    async fn serve(self, listening: Listening) -> Result<(), String> {
        // The lock is held until this returns.
        let Server {
            state,
            timers,
            lock: _lock,
        } = self;
        timers.spawn(timers::Deps {
            policy: state.policy.clone(),
            store: state.store.clone(),
            history: state.history.clone(),
            hub: state.hub.clone(),
        });
        outbox::spawn(state.store.clone(), state.config.webhooks.clone());
        // Kept alive until the server stops: dropping it ends the watch.
        let _watch = if state.config.watch {
            let debounce = std::time::Duration::from_millis(state.config.debounce_ms);
            Some(reload::watch::start(
                &state.reload.dir,
                debounce,
                state.reload.clone(),
            )?)
        } else {
            tracing::info!(
                "file watching is off (`watch = false`): reload with SIGHUP or POST /v1/policy/reload"
            );
            None
        };
        spawn_sighup(state.reload.clone());
        let ready = state.ready.clone();
        let hub = state.hub.clone();
        listening.app.store(Arc::new(api::app(state)));
        ready.store(true, Ordering::Release);
        let at = listening.at;
        // Where a newcomer's browser goes next.
        tracing::info!("listening on http://{at}; the policy editor is at http://{at}/editor");
        // The hub's closing is also the moment the grace period starts.
        let mut closing = hub.closing();
        let serve = async move {
            shutdown().await;
            // Live streams never end by themselves: without this, one
            // subscriber would keep the server from stopping.
            hub.close();
            listening.stop().await;
        };
        let overdue = async move {
            let _ = closing.wait_for(|s| *s).await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        let result = tokio::select! {
            () = serve => Ok(()),
            () = overdue => {
                tracing::warn!(
                    "requests still open {} s after the signal; stopping without them",
                    STOP_GRACE.as_secs()
                );
                Ok(())
            }
        };
        tracing::info!("stopped");
        result
    }
}

/// How long requests under way may take to finish once the server is
/// asked to stop (what is acknowledged is already stored).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// `SIGHUP` asks for a reload, as daemons have always done.
fn spawn_sighup(reload: reload::Handle) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /v1/policy/reload");
            return;
        };
        while hup.recv().await.is_some() {
            reload.trigger("SIGHUP");
        }
    });
    #[cfg(not(unix))]
    let _ = reload;
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// The first line of each rendered error (`file:line:col: error[E…]: …`),
/// joined for a log line; the source excerpts under them are left out.
fn headlines(rendered: &str) -> String {
    let heads: Vec<&str> = rendered
        .lines()
        .filter(|l| l.contains(": error["))
        .collect();
    if heads.is_empty() {
        rendered.trim_end().replace('\n', " ")
    } else {
        heads.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::{headlines, lock_data};

    /// The lock is the directory's: deleting a file in it (as a clean-up
    /// of a `whistle.lock` left by an older version might) does not let a
    /// second server in.
    #[test]
    fn a_second_lock_on_a_data_directory_is_refused() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let held = lock_data(&data)?;
        let stale = data.join("whistle.lock");
        std::fs::write(&stale, b"").map_err(|e| e.to_string())?;
        std::fs::remove_file(&stale).map_err(|e| e.to_string())?;
        let second = lock_data(&data);
        assert!(
            second
                .as_ref()
                .is_err_and(|e| e.contains("another `whistle serve` is using the data directory")),
            "{second:?}"
        );
        drop(held);
        assert!(lock_data(&data).is_ok(), "the lock goes with its holder");
        Ok(())
    }

    #[test]
    fn a_log_line_names_each_error_without_its_excerpt() {
        let rendered = "categories/wip.whistle:3:1: error[E0001]: expected `}`, found end of file\n  |\n3 | \n  | ^\n\nlists.whistle:2:9: error[E0102]: unknown category `x`\n  |\n2 |   forbid x\n  |          ^\n";
        assert_eq!(
            headlines(rendered),
            "categories/wip.whistle:3:1: error[E0001]: expected `}`, found end of file; lists.whistle:2:9: error[E0102]: unknown category `x`"
        );
    }
}

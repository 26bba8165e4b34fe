//! HTTP ingest speed of the server (docs/BENCHMARKS.md, "Server"): the real
//! server, started in this process on loopback with the shipped
//! `policies/wuhou` and a fresh data directory, and a load generator in the
//! same process (its own runtime and threads) holding several keep-alive
//! connections, each posting as fast as its answers come back, for a fixed
//! time. Every 201 means the event was committed (`synchronous=FULL`).
//!
//! Each batch size runs twice, against two servers:
//!
//! - `decide`: the real server (`serve::build` + `Server::run`): validate,
//!   decide, open the case, group-commit, answer with the decision;
//! - `plain`: a minimal axum route in this file that validates the same
//!   body the same way, opens the case from one decision made at start-up
//!   (no `decide` per event), and stores it through the same `Store` and
//!   the same group-commit shape; the gap between the two is what deciding
//!   costs.
//!
//! ```sh
//! cargo bench -p whistle-server --bench ingest
//! WHISTLE_BENCH_SECS=10 WHISTLE_BENCH_CONNS=64 WHISTLE_BENCH_BATCHES=1,10,50 \
//!   cargo bench -p whistle-server --bench ingest
//! ```
//!
//! Settings (environment): `WHISTLE_BENCH_SECS` measured seconds per run
//! (default 10, after 2 s of warm-up), `WHISTLE_BENCH_CONNS` connections
//! (64), `WHISTLE_BENCH_BATCHES` events per POST (`1,10,50`),
//! `WHISTLE_BENCH_MODES` (`decide,plain`), `WHISTLE_BENCH_DIR` where the
//! data directories go (the system temp dir; put it on the disk you mean
//! to measure, not a tmpfs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../tools/whistle-gen/src/lib.rs"]
mod whistle_gen;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use whistle_gen::{EventGen, scan_bundle};
use whistle_server::config::Config;
use whistle_server::serve::{Options, build};
use whistle_server::store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Distinct event bodies cycled through (each post gets a fresh id).
const TAILS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Decide,
    Plain,
}

struct Settings {
    secs: f64,
    warmup: f64,
    conns: usize,
    batches: Vec<usize>,
    modes: Vec<Mode>,
    dir: PathBuf,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Settings {
        let batches = std::env::var("WHISTLE_BENCH_BATCHES")
            .unwrap_or_else(|_| "1,10,50".into())
            .split(',')
            .map(|b| b.trim().parse().expect("WHISTLE_BENCH_BATCHES: numbers"))
            .collect();
        let modes = std::env::var("WHISTLE_BENCH_MODES")
            .unwrap_or_else(|_| "decide,plain".into())
            .split(',')
            .map(|m| match m.trim() {
                "decide" => Mode::Decide,
                "plain" => Mode::Plain,
                other => panic!("WHISTLE_BENCH_MODES: unknown mode {other:?}"),
            })
            .collect();
        Settings {
            secs: env_or("WHISTLE_BENCH_SECS", 10.0),
            warmup: env_or("WHISTLE_BENCH_WARMUP", 2.0),
            conns: env_or("WHISTLE_BENCH_CONNS", 64),
            batches,
            modes,
            dir: std::env::var_os("WHISTLE_BENCH_DIR")
                .map_or_else(std::env::temp_dir, PathBuf::from),
        }
    }
}

fn policy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou")
}

/// Event bodies without their `id` and opening brace (`"category":...}`),
/// reported now, in the generator's mix for the shipped policy (made again
/// for each run, so that the minute-scale limits of some categories have
/// not run out by the later runs).
fn tails() -> Vec<String> {
    let (cats, grids) = scan_bundle(&policy_dir()).expect("policies/wuhou");
    let now = jiff::Timestamp::now().as_second();
    let reported = whistle_gen::rfc3339_cst(now);
    let mut g = EventGen::new(11, cats, grids, now, 1, 10);
    g.lines(TAILS)
        .into_iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(&l).unwrap();
            let m = v.as_object_mut().unwrap();
            m.remove("id");
            m.insert("reported_at".into(), Value::String(reported.clone()));
            let s = serde_json::to_string(&v).unwrap();
            s[1..].to_string()
        })
        .collect()
}

/// The body of post number `k` (`batch` events from `k * batch` on).
fn body(k: u64, batch: usize, tails: &[String]) -> Bytes {
    let one = |n: u64, out: &mut String| {
        use std::fmt::Write;
        let _ = write!(out, "{{\"id\":\"B{n:010}\",");
        out.push_str(&tails[(n % tails.len() as u64) as usize]);
    };
    let mut out = String::with_capacity(batch * 330 + 16);
    if batch == 1 {
        one(k, &mut out);
    } else {
        out.push_str("{\"events\":[");
        for i in 0..batch as u64 {
            if i > 0 {
                out.push(',');
            }
            one(k * batch as u64 + i, &mut out);
        }
        out.push_str("]}");
    }
    Bytes::from(out)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// CPU seconds so far of this process's threads: the load generator's
/// (threads named `client*`), SQLite's (`sqlx-sqlite-worker*`: the writer,
/// the checkpointer, the readers) and the server's runtime (the rest).
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    client: f64,
    store: f64,
    runtime: f64,
}

fn cpu_split() -> Cpu {
    let mut cpu = Cpu::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("", |(_, n)| n);
        let f: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15; `rest` starts at field 3.
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| f.get(i).and_then(|x| x.parse::<f64>().ok()))
            .sum();
        let slot = if name.starts_with("client") {
            &mut cpu.client
        } else if name.starts_with("sqlx-sqlite") {
            &mut cpu.store
        } else {
            &mut cpu.runtime
        };
        *slot += ticks / 100.0;
    }
    cpu
}

/// What one run measured.
struct Report {
    events_per_s: f64,
    posts_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    failures: u64,
    first_failure: Option<String>,
    acknowledged: u64,
    stored: i64,
    /// Cores used by the server (runtime and store threads).
    server_cpu: f64,
    /// Cores used by SQLite's threads alone.
    store_cpu: f64,
    /// Cores used by the load generator.
    client_cpu: f64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// One connection's tally.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    events: u64,
    posts: u64,
    acknowledged: u64,
    failures: u64,
    first_failure: Option<String>,
    last_done: Option<Instant>,
}

async fn connection(
    addr: SocketAddr,
    batch: usize,
    next: Arc<AtomicU64>,
    tails: Arc<Vec<String>>,
    from: Instant,
    until: Instant,
) -> Tally {
    let mut t = Tally::default();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    loop {
        let start = Instant::now();
        if start >= until {
            break;
        }
        let k = next.fetch_add(1, Ordering::Relaxed);
        let req = hyper::Request::post("/v1/events")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(body(k, batch, &tails)))
            .unwrap();
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                t.failures += 1;
                t.first_failure.get_or_insert(format!("request: {e}"));
                break;
            }
        };
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map(|b| b.to_bytes());
        let done = Instant::now();
        let ok = status == 201 && bytes.is_ok();
        if ok {
            t.acknowledged += batch as u64;
        }
        if start < from {
            continue;
        }
        if ok {
            t.events += batch as u64;
            t.posts += 1;
            t.latencies_us
                .push(u32::try_from(done.duration_since(start).as_micros()).unwrap_or(u32::MAX));
            t.last_done = Some(done);
        } else {
            t.failures += 1;
            t.first_failure.get_or_insert_with(|| {
                format!(
                    "HTTP {status}: {}",
                    bytes.map_or_else(
                        |e| e.to_string(),
                        |b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned()
                    )
                )
            });
        }
    }
    t
}

async fn wait_ready(addr: SocketAddr) {
    let started = Instant::now();
    loop {
        if let Ok(s) = tokio::net::TcpStream::connect(addr).await
            && let Ok((mut sender, conn)) =
                hyper::client::conn::http1::handshake(TokioIo::new(s)).await
        {
            tokio::spawn(conn);
            let req = hyper::Request::get("/readyz")
                .header("host", "127.0.0.1")
                .body(Full::new(Bytes::new()))
                .unwrap();
            if let Ok(r) = sender.send_request(req).await
                && r.status() == 200
            {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn load(
    addr: SocketAddr,
    batch: usize,
    s: &Settings,
    tails: Arc<Vec<String>>,
) -> (Vec<Tally>, Instant, Cpu, Cpu) {
    wait_ready(addr).await;
    let next = Arc::new(AtomicU64::new(0));
    let from = Instant::now() + Duration::from_secs_f64(s.warmup);
    let until = from + Duration::from_secs_f64(s.secs);
    let tasks: Vec<_> = (0..s.conns)
        .map(|_| {
            tokio::spawn(connection(
                addr,
                batch,
                next.clone(),
                tails.clone(),
                from,
                until,
            ))
        })
        .collect();
    tokio::time::sleep_until(from.into()).await;
    let cpu_from = cpu_split();
    tokio::time::sleep_until(until.into()).await;
    let cpu_until = cpu_split();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    (out, from, cpu_from, cpu_until)
}

fn run(mode: Mode, batch: usize, s: &Settings, tails: &Arc<Vec<String>>) -> Report {
    let dir = tempfile::tempdir_in(&s.dir).unwrap();
    let data = dir.path().join("data");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        listen: addr,
        ..Config::default()
    };
    let store: Arc<dyn Store> = match mode {
        Mode::Decide => {
            let opts = Options {
                policy: policy_dir(),
                data,
                config,
            };
            let server = server_rt.block_on(build(&opts)).unwrap();
            let store = server.state.store.clone();
            server_rt.spawn(async move {
                if let Err(e) = server.run().await {
                    eprintln!("server: {e}");
                }
            });
            store
        }
        Mode::Plain => server_rt.block_on(plain::start(&policy_dir(), &data, &config)),
    };
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
        .unwrap();
    let (tallies, from, cpu_from, cpu_until) =
        client_rt.block_on(load(addr, batch, s, tails.clone()));
    client_rt.shutdown_background();
    let stored = server_rt.block_on(store.open_count()).unwrap_or(-1);
    server_rt.shutdown_background();
    let mut lat: Vec<u32> = Vec::new();
    let (mut events, mut posts, mut failures, mut acknowledged) = (0, 0, 0, 0);
    let mut first_failure = None;
    let mut last = from;
    for t in tallies {
        lat.extend(t.latencies_us);
        events += t.events;
        posts += t.posts;
        failures += t.failures;
        acknowledged += t.acknowledged;
        if first_failure.is_none() {
            first_failure = t.first_failure;
        }
        if let Some(d) = t.last_done {
            last = last.max(d);
        }
    }
    lat.sort_unstable();
    let secs = last.duration_since(from).as_secs_f64().max(1e-9);
    Report {
        events_per_s: events as f64 / secs,
        posts_per_s: posts as f64 / secs,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        p999_ms: percentile(&lat, 0.999),
        max_ms: lat.last().map_or(f64::NAN, |&m| f64::from(m) / 1000.0),
        failures,
        first_failure,
        acknowledged,
        stored,
        client_cpu: (cpu_until.client - cpu_from.client) / s.secs,
        store_cpu: (cpu_until.store - cpu_from.store) / s.secs,
        server_cpu: (cpu_until.store - cpu_from.store + cpu_until.runtime - cpu_from.runtime)
            / s.secs,
    }
}

fn main() {
    let s = Settings::from_env();
    println!(
        "ingest: policies/wuhou, {} connections, {} s per run after {} s warm-up, data in {}",
        s.conns,
        s.secs,
        s.warmup,
        s.dir.display()
    );
    println!(
        "{:<7} {:>5} {:>9} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>6}",
        "mode",
        "batch",
        "events/s",
        "posts/s",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "max ms",
        "server",
        "store",
        "client",
        "server/ev",
        "store/ev",
        "failed"
    );
    println!(
        "{:<7} {:>5} {:>9} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>6}",
        "", "", "", "", "", "", "", "", "cores", "cores", "cores", "CPU µs", "CPU µs", ""
    );
    for &batch in &s.batches {
        for &mode in &s.modes {
            // Reported now: no ladder step is due yet when an event opens.
            let r = run(mode, batch, &s, &Arc::new(tails()));
            let per_event = |cores: f64| cores * 1e6 / r.events_per_s.max(1e-9);
            println!(
                "{:<7} {:>5} {:>9.0} {:>8.0} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>9.1} {:>9.1} {:>6}",
                match mode {
                    Mode::Decide => "decide",
                    Mode::Plain => "plain",
                },
                batch,
                r.events_per_s,
                r.posts_per_s,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                r.max_ms,
                r.server_cpu,
                r.store_cpu,
                r.client_cpu,
                per_event(r.server_cpu),
                per_event(r.store_cpu),
                r.failures
            );
            if let Some(f) = &r.first_failure {
                println!("        first failure: {f}");
            }
            // Every acknowledged event must be in the store (none is
            // closed during the run, so all are open).
            assert!(
                r.stored >= 0 && r.stored as u64 >= r.acknowledged,
                "{} events were acknowledged but {} are stored",
                r.acknowledged,
                r.stored
            );
        }
    }
}

/// The peer: the same body into the same store, without deciding.
mod plain {
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::State;
    use axum::extract::rejection::JsonRejection;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use jiff::Timestamp;
    use serde_json::Value;
    use sha2::{Digest, Sha256};
    use tokio::sync::{mpsc, oneshot};
    use whistle_engine::event::{Event, event_from_value};
    use whistle_engine::lifecycle::Case;
    use whistle_engine::router::check_attr;
    use whistle_engine::windows::RepeatIndex;
    use whistle_engine::{Context, Decision, Policy, decide};
    use whistle_server::config::Config;
    use whistle_server::serve::load_policy;
    use whistle_server::store::sqlite::SqliteStore;
    use whistle_server::store::{Inserted, NewEvent, Store};

    struct Submission {
        events: Vec<(Event, String)>,
        reply: oneshot::Sender<Result<Vec<bool>, String>>,
    }

    #[derive(Clone)]
    struct St {
        policy: Arc<Policy>,
        tx: mpsc::Sender<Submission>,
        answer: Arc<str>,
    }

    /// Starts the peer on `config.listen`; returns its store.
    pub async fn start(policy: &Path, data: &Path, config: &Config) -> Arc<dyn Store> {
        let (policy, _) = load_policy(policy).unwrap();
        let policy = Arc::new(policy);
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(data, Vec::new()).await.unwrap());
        // The one decision every case is opened from, reported now so that
        // no ladder step is already due when a case opens (as for the
        // events the server decides).
        let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
        let template = whistle_engine::event::parse_event(&format!(
            r#"{{"id":"T","category":"neighbour_noise","grid":"G010101","source":"citizen","reported_at":"{now}"}}"#
        ))
        .unwrap();
        let history = RepeatIndex::new(policy.max_repeats_window, policy.repeats_levels.clone());
        let decision = decide(
            &policy,
            &template,
            &Context {
                history: &history,
                reopened: 0,
            },
        );
        let answer: Arc<str> = Arc::from(decision.to_json(&policy));
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(batcher(
            policy.clone(),
            store.clone(),
            decision,
            answer.clone(),
            Mutex::new(history),
            rx,
            config.batch_max,
        ));
        let app = axum::Router::new()
            .route("/v1/events", post(post_events))
            .route("/readyz", get(|| async { "ready" }))
            .with_state(St { policy, tx, answer });
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        store
    }

    /// The same group commit as the server's ingest task, minus `decide`.
    async fn batcher(
        policy: Arc<Policy>,
        store: Arc<dyn Store>,
        decision: Decision,
        answer: Arc<str>,
        history: Mutex<RepeatIndex>,
        mut rx: mpsc::Receiver<Submission>,
        batch_max: usize,
    ) {
        while let Some(first) = rx.recv().await {
            let mut n = first.events.len();
            let mut subs = vec![first];
            while n < batch_max {
                match rx.try_recv() {
                    Ok(s) => {
                        n += s.events.len();
                        subs.push(s);
                    }
                    Err(_) => break,
                }
            }
            let now = Timestamp::now();
            let mut batch = Vec::with_capacity(n);
            {
                let history = history.lock().unwrap();
                for s in &subs {
                    for (ev, hash) in &s.events {
                        let (case, transitions) =
                            Case::open(&policy, ev.clone(), &decision, now, &*history);
                        batch.push(
                            NewEvent::new(
                                ev.clone(),
                                hash.clone(),
                                answer.to_string(),
                                Arc::new(case),
                                transitions,
                                now,
                            )
                            .unwrap(),
                        );
                    }
                }
            }
            match store.insert_events(batch).await {
                Ok(done) => {
                    let mut it = done.into_iter();
                    for s in subs {
                        let out = (0..s.events.len())
                            .map(|_| matches!(it.next(), Some(Inserted::Created)))
                            .collect();
                        let _ = s.reply.send(Ok(out));
                    }
                }
                Err(e) => {
                    for s in subs {
                        let _ = s.reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    }

    fn validate(policy: &Policy, v: Value) -> Result<(Event, String), String> {
        let canonical = serde_json::to_string(&v).unwrap_or_default();
        let hash = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let ev = event_from_value(v).map_err(|e| e.0)?;
        check_attr(policy, &ev).map_err(|e| e.0)?;
        Ok((ev, hash))
    }

    async fn post_events(
        State(st): State<St>,
        json: Result<Json<Value>, JsonRejection>,
    ) -> Response {
        let Ok(Json(v)) = json else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let (items, batch) = match v {
            Value::Object(mut m) if m.contains_key("events") && !m.contains_key("id") => {
                match m.remove("events") {
                    Some(Value::Array(a)) => (a, true),
                    _ => return StatusCode::UNPROCESSABLE_ENTITY.into_response(),
                }
            }
            other => (vec![other], false),
        };
        let mut events = Vec::with_capacity(items.len());
        for item in items {
            match validate(&st.policy, item) {
                Ok(e) => events.push(e),
                Err(m) => return (StatusCode::UNPROCESSABLE_ENTITY, m).into_response(),
            }
        }
        let (reply, rx) = oneshot::channel();
        if st.tx.send(Submission { events, reply }).await.is_err() {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let Ok(Ok(created)) = rx.await else {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        };
        let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
        if !batch {
            return if created.first() == Some(&true) {
                (StatusCode::CREATED, json, st.answer.to_string()).into_response()
            } else {
                StatusCode::CONFLICT.into_response()
            };
        }
        let mut out = String::from("{\"results\":[");
        for (i, &c) in created.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if c {
                out.push_str("{\"status\":201,\"decision\":");
                out.push_str(&st.answer);
                out.push('}');
            } else {
                out.push_str("{\"status\":409}");
            }
        }
        out.push_str("]}");
        (StatusCode::CREATED, json, out).into_response()
    }
}

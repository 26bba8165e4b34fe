//! Memory and timer lag with many open events (docs/BENCHMARKS.md,
//! "Server"): the real `whistle serve` binary on loopback with a policy
//! whose ladder fires at second scale, 100,000 events posted in batches,
//! every one left open with an armed step; then the server's resident
//! memory, and the lag of the steps as they fire.
//!
//! The events' `reported_at` are chosen so that their first step
//! (`at 50% respond`, 5 minutes after the report) falls at instants spread
//! evenly over a window of `WHISTLE_BENCH_FIRE_SECS` seconds that opens
//! once all are loaded: 100,000 steps over 60 s is about 1,700 firings a
//! second. The lag of a step is measured where a client sees it: the
//! instant its `step_fired` transition arrives on `GET /v1/stream` (after
//! the commit that records it) minus the instant it was due. The server's
//! own `whistle_timer_lag_seconds` summary is read from `/metrics` too.
//!
//! ```sh
//! cargo bench -p whistle-server --bench open_events
//! WHISTLE_BENCH_OPEN=100000 WHISTLE_BENCH_FIRE_SECS=60 cargo bench -p whistle-server --bench open_events
//! ```
//!
//! Settings (environment): `WHISTLE_BENCH_OPEN` events (100,000),
//! `WHISTLE_BENCH_FIRE_SECS` the window the first steps are spread over
//! (60), `WHISTLE_BENCH_LOAD_SECS` the time allowed for loading before the
//! window opens (60), `WHISTLE_BENCH_DIR` where the data directory goes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use serde_json::Value;

/// Second-scale limits: the first step of each event is 5 minutes after
/// its report, the next ones 5 and 15 minutes later (after the window).
const POLICY: &str = r#"
policy "timers" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street < district
department grid_team "网格工作站" { level grid }
department command "综治中心" { level district }
grades blue < red
grade blue { level grid respond 600s resolve 1200s }
grade red  { level street respond 600s resolve 1200s }
category noise { lead grid_team grade blue }
fallback { lead command grade blue }
escalate {
  at 50%  respond -> remind
  at 100% respond -> raise 1, notify command
  at 100% resolve -> raise to district
}
"#;

/// Seconds from report to the first step (50% of 600 s).
const FIRST_STEP: i64 = 300;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The grids of the shipped area tree (the bench policy uses its areas).
fn grids() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("policies/wuhou/areas.yaml")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("grids:"))
        .flat_map(|r| {
            r.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|g| g.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// Resident memory of a process: (now, peak) in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Option<Sender> {
    let s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

async fn request(sender: &mut Sender, method: &str, path: &str, body: Bytes) -> (u16, Bytes) {
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

async fn wait_ready(addr: SocketAddr) {
    let started = Instant::now();
    loop {
        if let Some(mut s) = connect(addr).await
            && request(&mut s, "GET", "/readyz", Bytes::new()).await.0 == 200
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts `n` events in batches of 500 over 4 connections; the first step of
/// event `i` is due at `window_start + i * spread / n`.
async fn load(addr: SocketAddr, n: usize, window_start_ms: i64, spread_ms: i64) {
    let grids = grids();
    let per_conn = n.div_ceil(4);
    let mut tasks = Vec::new();
    for c in 0..4 {
        let grids = grids.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = connect(addr).await.unwrap();
            let (from, to) = (c * per_conn, ((c + 1) * per_conn).min(n));
            let mut i = from;
            while i < to {
                let end = (i + 500).min(to);
                let mut body = String::from("{\"events\":[");
                for k in i..end {
                    let due = window_start_ms + spread_ms * k as i64 / n as i64;
                    let reported = Timestamp::from_millisecond(due - FIRST_STEP * 1000).unwrap();
                    if k > i {
                        body.push(',');
                    }
                    body.push_str(&format!(
                        r#"{{"id":"O{k:07}","category":"noise","grid":"{}","source":"citizen","reported_at":"{reported}"}}"#,
                        grids[k % grids.len()]
                    ));
                }
                body.push_str("]}");
                let (st, b) = request(&mut s, "POST", "/v1/events", Bytes::from(body)).await;
                assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));
                i = end;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Reads `/v1/stream` until `until`; returns the lag in ms of every
/// `step_fired` seen (arrival minus due) and how many events it read.
async fn watch(addr: SocketAddr, until: Instant) -> (Vec<i64>, usize) {
    let mut s = connect(addr).await.unwrap();
    let req = hyper::Request::get("/v1/stream")
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut body = s.send_request(req).await.unwrap().into_body();
    let mut lags = Vec::new();
    let mut seen = 0;
    let mut buf = String::new();
    let mut kind = String::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Ok(Some(Ok(frame))) = tokio::time::timeout(left, body.frame()).await else {
            break;
        };
        let now = Timestamp::now().as_millisecond();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.push_str(&String::from_utf8_lossy(&data));
        while let Some(nl) = buf.find('\n') {
            let line: String = buf.drain(..=nl).collect();
            let line = line.trim_end();
            if let Some(k) = line.strip_prefix("event:") {
                kind = k.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                seen += 1;
                if kind == "step_fired"
                    && let Ok(v) = serde_json::from_str::<Value>(d.trim())
                    && let Some(due) = v["transition"]["detail"]["due"].as_str()
                    && let Ok(due) = due.parse::<Timestamp>()
                {
                    lags.push(now - due.as_millisecond());
                }
            }
        }
    }
    (lags, seen)
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n: usize = env_or("WHISTLE_BENCH_OPEN", 100_000);
    let fire_secs: i64 = env_or("WHISTLE_BENCH_FIRE_SECS", 60);
    let load_secs: i64 = env_or("WHISTLE_BENCH_LOAD_SECS", 60);
    let base = std::env::var_os("WHISTLE_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = tempfile::tempdir_in(base).unwrap();
    let policy = dir.path().join("policy");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::write(policy.join("policy.whistle"), POLICY).unwrap();
    std::fs::copy(
        root().join("policies/wuhou/areas.yaml"),
        policy.join("areas.yaml"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(env!("CARGO_BIN_EXE_whistle"))
        .args(["serve", "--policy"])
        .arg(&policy)
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--listen", &addr.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server = Server { child };
    let pid = server.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(wait_ready(addr));
    let idle = rss_mib(pid);
    let started = Instant::now();
    let window_start = Timestamp::now().as_millisecond() + load_secs * 1000;
    rt.block_on(load(addr, n, window_start, fire_secs * 1000));
    let loaded_in = started.elapsed().as_secs_f64();
    assert!(
        Timestamp::now().as_millisecond() < window_start,
        "loading took {loaded_in:.1} s, longer than WHISTLE_BENCH_LOAD_SECS={load_secs}"
    );
    // Let the page caches and the allocator settle.
    std::thread::sleep(Duration::from_secs(2));
    let loaded = rss_mib(pid);
    println!(
        "open_events: {n} events loaded in {loaded_in:.1} s ({:.0}/s); server RSS idle {:.1} MiB, \
         with {n} open events and armed timers {:.1} MiB (peak so far {:.1} MiB)",
        n as f64 / loaded_in,
        idle.0,
        loaded.0,
        loaded.1
    );
    // Watch from before the window opens to 10 s after it closes.
    let wait = window_start - Timestamp::now().as_millisecond() - 1000;
    std::thread::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0)));
    let until = Instant::now() + Duration::from_secs(u64::try_from(fire_secs).unwrap() + 11);
    let (mut lags, seen) = rt.block_on(watch(addr, until));
    lags.sort_unstable();
    let after = rss_mib(pid);
    let metrics = rt.block_on(async {
        let mut s = connect(addr).await.unwrap();
        let (_, b) = request(&mut s, "GET", "/metrics", Bytes::new()).await;
        String::from_utf8_lossy(&b).into_owned()
    });
    let server_lag: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("whistle_timer_lag_seconds"))
        .collect();
    println!(
        "steps fired and seen on /v1/stream: {} of {n} ({} stream messages) over {fire_secs} s, \
         {:.0} steps/s",
        lags.len(),
        seen,
        lags.len() as f64 / fire_secs as f64
    );
    println!(
        "lag (arrival on the stream minus due), ms: p50 {} p90 {} p99 {} p99.9 {} max {}",
        pct(&lags, 0.5),
        pct(&lags, 0.9),
        pct(&lags, 0.99),
        pct(&lags, 0.999),
        lags.last().copied().unwrap_or(-1)
    );
    println!(
        "server's own timer lag (seconds): {}",
        server_lag.join("; ")
    );
    println!(
        "server RSS after the window: {:.1} MiB (peak {:.1} MiB)",
        after.0, after.1
    );
    drop(server);
}

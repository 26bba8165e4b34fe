//! Telling the world, end to end: webhooks from the outbox (delivery,
//! retries with backoff, nothing lost across a restart) and the live
//! stream of `GET /v1/stream`, against the real binary on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::{Server, event, fast_policy, free_port, wait_for};
use serde_json::{Value, json};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    status: u16,
    body: Value,
    /// `Whistle-Delivery` and `Whistle-Attempt`.
    delivery: Option<String>,
    attempt: Option<String>,
    /// `Whistle-Journal-Seq` and `Whistle-Journal-Hash`.
    journal: Option<(String, String)>,
}

/// A webhook receiver on loopback: answers 500 until `fail_until`, then
/// 200, and remembers every request.
#[derive(Clone)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    /// Listens on `port`, failing every request during the first
    /// `fail_for` after the first one arrives.
    fn start(port: u16, fail_for: Duration) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let r = Receiver {
            hits: Arc::new(Mutex::new(Vec::new())),
        };
        let hits = r.hits.clone();
        std::thread::spawn(move || {
            let mut first: Option<Instant> = None;
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let now = Instant::now();
                let failing = now < *first.get_or_insert(now) + fail_for;
                let status = if failing { 500 } else { 200 };
                if let Some(got) = answer(conn, status) {
                    hits.lock().unwrap().push(Hit {
                        at: now,
                        status,
                        body: got.body,
                        delivery: got.delivery,
                        attempt: got.attempt,
                        journal: got.journal_seq.zip(got.journal_hash),
                    });
                }
            }
        });
        r
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// The bodies answered with 200.
    fn delivered(&self) -> Vec<Value> {
        self.hits()
            .into_iter()
            .filter(|h| h.status == 200)
            .map(|h| h.body)
            .collect()
    }
}

/// The body, and the `Whistle-*` headers.
#[derive(Default)]
struct Request {
    body: Value,
    delivery: Option<String>,
    attempt: Option<String>,
    journal_seq: Option<String>,
    journal_hash: Option<String>,
}

/// Reads one HTTP/1.1 request, answers `status` and closes the connection;
/// returns the JSON body and the delivery headers.
fn answer(mut conn: TcpStream, status: u16) -> Option<Request> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut length = 0usize;
    let mut got = Request::default();
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.parse().ok()?,
                "whistle-delivery" => got.delivery = Some(v.to_string()),
                "whistle-attempt" => got.attempt = Some(v.to_string()),
                "whistle-journal-seq" => got.journal_seq = Some(v.to_string()),
                "whistle-journal-hash" => got.journal_hash = Some(v.to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let reason = if status == 200 { "OK" } else { "Server Error" };
    conn.write_all(
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .ok()?;
    assert!(request_line.starts_with("POST /hook "), "{request_line}");
    got.body = serde_json::from_slice(&body).ok()?;
    Some(got)
}

fn webhook_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let cfg = dir.join("whistle.toml");
    std::fs::write(
        &cfg,
        format!("[[webhooks]]\nname = \"city\"\nurl = \"http://127.0.0.1:{port}/hook\"\n"),
    )
    .unwrap();
    cfg
}

/// Counts of each JSON value (a webhook delivers at least once; these
/// tests check that nothing is missing and nothing is invented).
fn counts(values: &[Value]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for v in values {
        *m.entry(v.to_string()).or_insert(0) += 1;
    }
    m
}

/// Every journal entry of `ids` was delivered at least once, and
/// everything delivered is one of them.
fn all_delivered(s: &Server, r: &Receiver, ids: &[&str]) -> Result<(), String> {
    let journal: Vec<Value> = ids.iter().flat_map(|id| s.history(id)).collect();
    let want = counts(&journal);
    let got = counts(&r.delivered());
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let unknown: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    if missing.is_empty() && unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} journal entries not delivered: {missing:?}; delivered but not in the journal: {unknown:?}",
            missing.len(),
            want.len()
        ))
    }
}

#[test]
fn webhooks_get_every_transition_and_step_and_failures_are_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Every request fails for the first 3.5 s: an item first tried at once
    // is tried again 1 s and 2 s later (both fail), then 4 s after that.
    let r = Receiver::start(port, Duration::from_millis(3500));
    let cfg = webhook_config(dir.path(), port);
    let s = Server::start(&fast_policy(dir.path()), &dir.path().join("db"), Some(&cfg));
    let (st, d) = s.post("/v1/events", &event("W-1", "noise"), None);
    assert_eq!(st, 201, "{d}");
    // The ladder fires at 1, 2 and 4 s; then all of it reaches the hook.
    let done = wait_for(40, || {
        let kinds: Vec<String> = s
            .history("W-1")
            .iter()
            .map(|h| h["kind"].as_str().unwrap_or("").to_string())
            .collect();
        kinds.iter().filter(|k| *k == "step_fired").count() == 3
            && all_delivered(&s, &r, &["W-1"]).is_ok()
    });
    assert!(done, "{:?}", all_delivered(&s, &r, &["W-1"]));
    let delivered = r.delivered();
    for kind in ["reported", "dispatched", "step_fired", "reminded", "raised"] {
        assert!(
            delivered.iter().any(|b| b["kind"] == kind),
            "no `{kind}` delivered: {delivered:?}"
        );
    }
    assert!(delivered.iter().all(|b| b["event_id"] == "W-1"));
    // Each transition comes with its journal entry's place and hash, as
    // the event's history shows them: the receiver's last one anchors the
    // chain's end for `whistle verify --anchor`.
    let (_, stored) = s.get("/v1/events/W-1", None);
    let entries: HashMap<String, (String, String)> = stored["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let hash = h["hash"].as_str().unwrap().to_string();
            (h["body"].to_string(), (h["seq"].to_string(), hash))
        })
        .collect();
    for h in r.hits() {
        assert!(h.journal.is_some(), "no journal headers: {:?}", h.body);
        assert_eq!(
            h.journal.as_ref(),
            entries.get(&h.body.to_string()),
            "{:?}",
            h.body
        );
    }
    let (seq, hash) = r
        .hits()
        .into_iter()
        .filter_map(|h| h.journal)
        .max_by_key(|(seq, _)| seq.parse::<i64>().unwrap())
        .unwrap();
    let verify = |anchor: &str| {
        common::run(
            &[
                "verify",
                "--data",
                dir.path().join("db").to_str().unwrap(),
                "--anchor",
                anchor,
            ],
            b"",
        )
    };
    let held = verify(&format!("{seq}:{hash}"));
    assert!(held.status.success(), "{}", common::text(&held));
    assert!(
        common::text(&held).contains(&format!("holds entry {seq} as anchored")),
        "{}",
        common::text(&held)
    );
    // An anchor past the journal's end: what a cut end looks like.
    let past = seq.parse::<i64>().unwrap() + 1000;
    let cut = verify(&format!("{past}:{hash}"));
    assert_eq!(cut.status.code(), Some(1), "{}", common::text(&cut));
    assert!(
        common::text(&cut).contains("entries were cut from its end"),
        "{}",
        common::text(&cut)
    );
    // The `reported` item failed at first and was tried again with growing
    // gaps (1 s, then 2 s, then 4 s: exponential backoff).
    let reported: Vec<Hit> = r
        .hits()
        .into_iter()
        .filter(|h| h.body["kind"] == "reported")
        .collect();
    let statuses: Vec<u16> = reported.iter().map(|h| h.status).collect();
    // Every attempt carries the same delivery id, so a receiver can drop
    // a repeat, and counts itself.
    let ids: Vec<&str> = reported
        .iter()
        .filter_map(|h| h.delivery.as_deref())
        .collect();
    assert_eq!(ids.len(), reported.len(), "every attempt has an id");
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let attempts: Vec<&str> = reported
        .iter()
        .filter_map(|h| h.attempt.as_deref())
        .collect();
    let counted: Vec<String> = (1..=reported.len()).map(|n| n.to_string()).collect();
    assert_eq!(attempts, counted);
    assert!(
        statuses.len() >= 3 && statuses[0] == 500 && statuses.last() == Some(&200),
        "attempts at `reported`: {statuses:?}"
    );
    let gaps: Vec<f64> = reported
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at).as_secs_f64())
        .collect();
    for (i, gap) in gaps.iter().enumerate() {
        let backoff = f64::from(1u32 << i);
        assert!(
            *gap >= backoff - 0.25,
            "attempt {} came {gap:.2} s after the one before; the backoff is {backoff} s: {gaps:?}",
            i + 2
        );
    }
    let metrics = s.metrics();
    let failures = metrics
        .lines()
        .find(|l| l.starts_with("whistle_webhook_failures_total"))
        .unwrap_or_else(|| panic!("no webhook failure metric: {metrics}"));
    let n: f64 = failures.rsplit(' ').next().unwrap().parse().unwrap();
    let failed = r.hits().iter().filter(|h| h.status == 500).count();
    assert_eq!(n as usize, failed, "{failures}");
}

#[test]
fn no_webhook_item_is_lost_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Nobody listens on the hook's port yet: every delivery fails.
    let port = free_port();
    let cfg = webhook_config(dir.path(), port);
    let s = Server::start(&fast_policy(dir.path()), &dir.path().join("db"), Some(&cfg));
    let ids = ["X-1", "X-2", "X-3"];
    for id in ids {
        assert_eq!(s.post("/v1/events", &event(id, "noise"), None).0, 201);
    }
    // Attempts fail while steps keep firing; then the server is killed.
    std::thread::sleep(Duration::from_millis(2500));
    let metrics = s.metrics();
    assert!(
        metrics.contains("whistle_webhook_failures_total"),
        "deliveries should have failed: {metrics}"
    );
    let mut s = s;
    s.kill();
    // Both come back: the receiver, then the server on the same data.
    let r = Receiver::start(port, Duration::ZERO);
    let s = s.restart();
    let done = wait_for(60, || {
        ids.iter().all(|id| {
            s.history(id)
                .iter()
                .filter(|h| h["kind"] == "step_fired")
                .count()
                == 3
        }) && all_delivered(&s, &r, &ids).is_ok()
    });
    assert!(done, "{:?}", all_delivered(&s, &r, &ids));
    // Each item is delivered once it succeeds: no entry twice.
    let twice: Vec<(String, usize)> = counts(&r.delivered())
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
}

/// A receiver that hangs (takes the connection and never answers) holds
/// up its own items only: another webhook gets everything at once.
#[test]
fn a_hanging_webhook_does_not_hold_up_another() {
    let dir = tempfile::tempdir().unwrap();
    let hang = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    // Accepted and kept open, never read or answered.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in hang.incoming().flatten() {
            held.push(conn);
        }
    });
    let port = free_port();
    let r = Receiver::start(port, Duration::ZERO);
    let cfg = dir.path().join("whistle.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[webhooks]]\nname = \"hang\"\nurl = \"http://127.0.0.1:{hang_port}/hook\"\n\
             [[webhooks]]\nname = \"city\"\nurl = \"http://127.0.0.1:{port}/hook\"\n"
        ),
    )
    .unwrap();
    let s = Server::start(&fast_policy(dir.path()), &dir.path().join("db"), Some(&cfg));
    let ids = ["H-1", "H-2", "H-3", "H-4", "H-5"];
    for id in ids {
        assert_eq!(s.post("/v1/events", &event(id, "noise"), None).0, 201);
    }
    // Each post to the hanging one waits 10 s: taken one after the other,
    // the last of these ten items would come after more than a minute.
    let reported_and_dispatched = || {
        let got = r.delivered();
        ids.iter().all(|id| {
            ["reported", "dispatched"]
                .iter()
                .all(|k| got.iter().any(|b| b["event_id"] == *id && b["kind"] == *k))
        })
    };
    assert!(wait_for(8, reported_and_dispatched), "{:?}", r.delivered());
}

#[test]
fn the_stream_carries_transitions_and_escalation_steps() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&fast_policy(dir.path()), &dir.path().join("db"), None);
    let rx = s.stream();
    let (st, _) = s.post("/v1/events", &event("S-1", "noise"), None);
    assert_eq!(st, 201);
    let (st, _) = s.post("/v1/events", &event("S-2", "noise"), None);
    assert_eq!(st, 201);
    let (st, r) = s.post("/v1/events/S-2/accept", &json!({"by": "li"}), None);
    assert_eq!(st, 200, "{r}");
    // Collect until S-1's whole ladder has fired (4 s), or time runs out.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got: Vec<(String, Value)> = Vec::new();
    while Instant::now() < deadline {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(200)) {
            got.push(m);
        }
        let steps = got
            .iter()
            .filter(|(_, d)| d["event_id"] == "S-1" && d["transition"]["kind"] == "step_fired")
            .count();
        if steps == 3 {
            // What the last step did follows it on the stream.
            while let Ok(m) = rx.recv_timeout(Duration::from_millis(500)) {
                got.push(m);
            }
            break;
        }
    }
    let of = |id: &str| -> Vec<String> {
        got.iter()
            .filter(|(_, d)| d["event_id"] == id)
            .map(|(_, d)| d["transition"]["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let s1 = of("S-1");
    for kind in ["reported", "dispatched", "step_fired", "reminded", "raised"] {
        assert!(s1.iter().any(|k| k == kind), "S-1: no `{kind}` in {s1:?}");
    }
    assert_eq!(
        s1.iter().filter(|k| *k == "step_fired").count(),
        3,
        "{s1:?}"
    );
    // The acceptance is streamed under its own name; S-2's ladder waits on
    // the respond clock, so its respond steps never fire.
    assert!(
        got.iter()
            .any(|(name, d)| name == "accepted" && d["event_id"] == "S-2"),
        "{got:?}"
    );
    // No respond step of S-2 fires once it is accepted. (On a loaded
    // machine the acceptance can come after its 50% reminder, a second
    // after the report: what fired before it is not the point.)
    let s2: Vec<&Value> = got
        .iter()
        .filter(|(_, d)| d["event_id"] == "S-2")
        .map(|(_, d)| &d["transition"])
        .collect();
    let accepted = s2.iter().position(|t| t["kind"] == "accepted").unwrap();
    let respond_after: Vec<&&Value> = s2[accepted..]
        .iter()
        .filter(|t| {
            t["kind"] == "step_fired"
                && t["detail"]["label"]
                    .as_str()
                    .is_some_and(|l| l.ends_with("respond"))
        })
        .collect();
    assert!(
        respond_after.is_empty(),
        "a respond step fired after S-2's acceptance: {s2:?}"
    );
    // What the stream said is what the journal holds.
    let journal: Vec<String> = s
        .history("S-1")
        .iter()
        .map(|h| h["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(s1, journal);
    // Escalation steps are named for what they are.
    assert!(
        got.iter()
            .any(|(name, d)| name == "step_fired" && d["event_id"] == "S-1"),
        "{got:?}"
    );
}

/// The ids of the first two messages a new subscriber of `s` reads after
/// `s` decides event `id`.
fn first_two_ids(s: &Server, id: &str) -> (Vec<u64>, TcpStream, std::thread::JoinHandle<()>) {
    let conn = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    write!(&conn, "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let reading = std::thread::spawn(move || {
        let mut line = String::new();
        // Until end of stream (or the read timeout, which fails below).
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            let _ = lines_tx.send(std::mem::take(&mut line));
        }
    });
    // The subscription is made when the response's headers are out; an
    // event posted before would not be seen.
    std::thread::sleep(Duration::from_millis(200));
    let (st, _) = s.post("/v1/events", &event(id, "noise"), None);
    assert_eq!(st, 201);
    let mut ids = Vec::new();
    let t = Instant::now();
    while ids.len() < 2 && t.elapsed() < Duration::from_secs(20) {
        let Ok(l) = lines.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        if let Some(id) = l.strip_prefix("id: ") {
            ids.push(id.trim().parse().unwrap());
        }
    }
    (ids, conn, reading)
}

/// Messages are numbered in order, and the numbers keep growing across a
/// restart: a client that keeps the largest id it saw does not take the
/// new server's messages for old ones.
#[test]
fn stream_ids_keep_growing_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let policy = fast_policy(dir.path());
    let before = {
        let s = Server::start(&policy, &dir.path().join("db"), None);
        let (ids, _conn, _reading) = first_two_ids(&s, "R-1");
        ids
    };
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(before[1], before[0] + 1, "numbered in order: {before:?}");
    let s = Server::start(&policy, &dir.path().join("db"), None);
    let (after, _conn, _reading) = first_two_ids(&s, "R-2");
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after[0] > before[1], "{before:?} then {after:?}");
}

/// A client still reading the stream does not keep a stopping server
/// alive (it used to run until the client hung up).
#[test]
fn a_stopping_server_ends_its_streams_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&fast_policy(dir.path()), &dir.path().join("db"), None);
    let (ids, _conn, reading) = first_two_ids(&s, "Q-1");
    assert_eq!(ids.len(), 2, "{ids:?}");
    let pid = s.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let t = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    reading.join().unwrap();
}

/// A client reconnecting with `Last-Event-ID` is told first that the
/// stream does not replay what it missed, not left to believe it missed
/// nothing.
#[test]
fn a_reconnecting_stream_client_is_told_it_missed_messages() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&fast_policy(dir.path()), &dir.path().join("db"), None);
    let mut conn = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    write!(
        conn,
        "GET /v1/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 42\r\n\r\n"
    )
    .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(conn);
    let mut event = None;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if let Some(name) = line.strip_prefix("event: ") {
            event = Some(name.trim().to_string());
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let data: Value = serde_json::from_str(data.trim()).unwrap();
            assert_eq!(event.as_deref(), Some("lagged"), "{data}");
            assert_eq!(data["missed"], Value::Null, "{data}");
            assert_eq!(data["last_event_id"], "42", "{data}");
            return;
        }
        line.clear();
    }
    panic!("no event on the stream");
}

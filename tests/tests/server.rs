//! The server, end to end: the real binary on loopback, driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::server::{Server, free_port, now_rfc3339};
use common::{check_api_schema, copy_dir, root, run_within, text, whistle};
use serde_json::{Value, json};

fn event(id: &str, category: &str) -> Value {
    json!({"id": id, "category": category, "grid": "G010101", "source": "citizen", "reported_at": now_rfc3339()})
}

fn shipped() -> PathBuf {
    root().join("policies/wuhou")
}

#[test]
fn an_event_lives_its_whole_life_over_http() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(&shipped(), data.path(), None);
    let (st, d) = s.post("/v1/events", &event("L-1", "neighbour_noise"), None);
    assert_eq!(st, 201, "{d}");
    check_api_schema("Decision", &d);
    assert_eq!(d["event_id"], "L-1");
    let (st, e) = s.get("/v1/events/L-1", None);
    assert_eq!(st, 200);
    assert_eq!(e["state"], "dispatched");
    // The case's deadlines read as the decision's: with the policy's
    // offset, not in UTC.
    assert_eq!(e["case"]["resolve_by"], d["resolve_by"], "{e}");
    assert!(
        e["case"]["clock_start"]
            .as_str()
            .unwrap()
            .ends_with("+08:00"),
        "{e}"
    );
    let (_, page) = s.get("/v1/events", None);
    assert_eq!(page["events"][0]["respond_by"], d["respond_by"], "{page}");
    // Feedback before resolution is refused, with the reason, and changes nothing.
    let (st, err) = s.post("/v1/events/L-1/feedback", &json!({"rating": 5}), None);
    assert_eq!(st, 409, "{err}");
    assert_eq!(err["error"]["details"]["reason"], "invalid_state");
    for (verb, body) in [
        ("accept", json!({})),
        ("resolve", json!({"note": "talked to both"})),
        ("feedback", json!({"rating": 5, "comment": "好"})),
    ] {
        let (st, r) = s.post(&format!("/v1/events/L-1/{verb}"), &body, None);
        assert_eq!(st, 200, "{verb}: {r}");
    }
    let (_, e) = s.get("/v1/events/L-1", None);
    assert_eq!(e["state"], "closed");
    let kinds: Vec<&str> = e["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["body"]["kind"].as_str())
        .collect();
    for k in ["reported", "dispatched", "accepted", "resolved", "closed"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let (st, _) = s.post("/v1/events/L-1/feedback", &json!({"rating": 9}), None);
    assert!(st == 409 || st == 422, "{st}");
    let (st, _) = s.post(
        "/v1/events/L-1/reopen",
        &json!({"reason": "noise again"}),
        None,
    );
    assert_eq!(st, 200);
    let (st, list) = s.get("/v1/events?state=dispatched", None);
    assert_eq!(st, 200);
    check_api_schema("EventPage", &list);
    assert_eq!(list["events"][0]["id"], "L-1");
    assert_eq!(s.get("/v1/events/nope", None).0, 404);
    assert_eq!(s.post("/v1/events/L-1/dance", &json!({}), None).0, 404);
    // Read with GET, a mistyped action or an id with an unencoded `/` is
    // no endpoint (404, with the hint), not a method to change (405).
    let (st, r) = s.get("/v1/events/L-1/dance", None);
    assert_eq!(st, 404, "{r}");
    let (st, r) = s.get("/v1/events/a/b", None);
    assert_eq!(st, 404, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("%2F"),
        "{r}"
    );
    assert_eq!(s.get("/v1/events/L-1/accept", None).0, 405);
}

/// A grid worker's app uploads reports days after they were made: each
/// still sees the earlier events of its `repeats` window (here 30 days),
/// within the server's `late_report_hours` (72 by default).
#[test]
fn a_report_uploaded_days_late_sees_its_whole_window() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(&shipped(), data.path(), None);
    let dispute = |id: &str, at: &str| {
        json!({"id": id, "category": "neighbour_dispute", "grid": "G010101",
            "location": "Building 3", "reported_at": at})
    };
    for (id, at) in [
        ("D-1", "2026-05-11T18:00:00+08:00"),
        ("D-2", "2026-05-11T19:00:00+08:00"),
        ("D-3", "2026-06-13T00:00:00+08:00"),
    ] {
        let (st, d) = s.post("/v1/events", &dispute(id, at), None);
        assert_eq!(st, 201, "{d}");
    }
    // Two and a half days behind the latest report, 29.75 days after the
    // first two: both are within its 30 days.
    let (st, d) = s.post(
        "/v1/events",
        &dispute("D-4", "2026-06-10T12:00:00+08:00"),
        None,
    );
    assert_eq!(st, 201, "{d}");
    assert_eq!(d["grade"], "yellow", "{d}");
}

#[test]
fn retries_are_safe_and_conflicts_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(&shipped(), data.path(), None);
    let e = event("R-1", "fire_lane");
    let (a, first) = s.post("/v1/events", &e, None);
    let (b, again) = s.post("/v1/events", &e, None);
    assert_eq!((a, b), (201, 200));
    check_api_schema("Decision", &first);
    check_api_schema("Decision", &again);
    assert_eq!(first, again);
    let mut other = e.clone();
    other["category"] = json!("gas_leak");
    other["attr"] = json!({"gas_ppm": 500});
    let (st, r) = s.post("/v1/events", &other, None);
    assert_eq!(st, 409, "{r}");
    // The refusal says what differs from the event stored under the id.
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with("`category`, `attr.gas_ppm` differ"),
        "{r}"
    );
    // The same event written another way (the instant in UTC, the default
    // source left out) is a retry, answered with the stored decision.
    let at: jiff::Timestamp = e["reported_at"].as_str().unwrap().parse().unwrap();
    let mut same = e.clone();
    same["reported_at"] = json!(at.to_string());
    same.as_object_mut().unwrap().remove("source");
    assert_ne!(same, e);
    let (st, r) = s.post("/v1/events", &same, None);
    assert_eq!(st, 200, "{r}");
    assert_eq!(r, first);
    // Numbers written another way (`2.0` for `2`, `-0.0` for `0`) are the
    // same numbers to every condition: a retry too. Another number is not.
    let mut counted = event("R-6", "fire_lane");
    counted["attr"] = json!({"vehicles": 2, "seen": {"at": [0, 1e0]}});
    let (st, stored) = s.post("/v1/events", &counted, None);
    assert_eq!(st, 201, "{stored}");
    counted["attr"] = json!({"vehicles": 2.0, "seen": {"at": [-0.0, 1]}});
    let (st, r) = s.post("/v1/events", &counted, None);
    assert_eq!((st, &r), (200, &stored));
    counted["attr"] = json!({"vehicles": 3, "seen": {"at": [0, 1]}});
    let (st, r) = s.post("/v1/events", &counted, None);
    assert_eq!(st, 409, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("`attr.vehicles` differs"),
        "{r}"
    );
    let batch = json!({"events": [event("R-2", "fire_lane"), event("R-3", "gas_leak"), e]});
    let (st, r) = s.post("/v1/events", &batch, None);
    assert_eq!(st, 201);
    check_api_schema("BatchResults", &r);
    let statuses: Vec<i64> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 201, 200]);
    // An item refused in a batch is told as a single post would be.
    let clash = json!({"events": [event("R-4", "fire_lane"), other]});
    let (st, r) = s.post("/v1/events", &clash, None);
    assert_eq!(st, 201, "{r}");
    check_api_schema("BatchResults", &r);
    assert_eq!(r["results"][1]["status"], 409, "{r}");
    assert_eq!(r["results"][1]["error"]["code"], "conflict", "{r}");
    let (st, r) = s.post(
        "/v1/events",
        &json!({"events": [event("R-5", "fire_lane")], "mode": "partial"}),
        None,
    );
    assert_eq!(st, 422, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("`mode`"),
        "{r}"
    );
    assert_eq!(s.get("/v1/events/R-5", None).0, 404, "nothing was stored");
}

#[test]
fn bad_requests_get_clear_4xx_answers() {
    let data = tempfile::tempdir().unwrap();
    let cfg = data.path().join("whistle.toml");
    std::fs::write(&cfg, "body_limit = 4096\n").unwrap();
    let s = Server::start(&shipped(), &data.path().join("db"), Some(&cfg));
    let (st, e) = s.post_raw("/v1/events", b"{not json");
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error"]["code"], "malformed_json");
    // Two ids in one body: refused, nothing stored under either.
    let twice = br#"{"id":"B-0","id":"B-00","category":"fire_lane","grid":"G010101","source":"patrol","reported_at":"2026-06-03T10:00:00+08:00"}"#;
    let (st, e) = s.post_raw("/v1/events", twice);
    assert_eq!(st, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the key `id` is given twice in one object"),
        "{e}"
    );
    assert_eq!(s.get("/v1/events/B-00", None).0, 404);
    let mut ev = event("B-1", "fire_lane");
    ev.as_object_mut().unwrap().remove("grid");
    let (st, e) = s.post("/v1/events", &ev, None);
    assert_eq!(st, 422);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("grid"),
        "{e}"
    );
    // A year ahead (a mistyped 2026) would switch `repeats` off for every
    // event after it: refused, naming the field.
    let mut ev = event("B-F", "fire_lane");
    ev["reported_at"] = json!("2926-06-03T10:00:00+08:00");
    let (st, e) = s.post("/v1/events", &ev, None);
    assert_eq!(st, 422, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("`reported_at`: 2926-06-03T02:00:00Z is ahead of the server's clock"),
        "{e}"
    );
    assert_eq!(s.get("/v1/events/B-F", None).0, 404);
    // A batch with one bad event says how many of how many, and stores none.
    let mut bad = event("B-G2", "fire_lane");
    bad.as_object_mut().unwrap().remove("grid");
    let (st, e) = s.post(
        "/v1/events",
        &json!({"events": [event("B-G1", "fire_lane"), bad]}),
        None,
    );
    assert_eq!(st, 422, "{e}");
    assert_eq!(
        e["error"]["message"], "1 of the 2 events is not valid; none was stored",
        "{e}"
    );
    assert_eq!(s.get("/v1/events/B-G1", None).0, 404);
    // An array is not a batch: said how one is sent.
    let (st, e) = s.post("/v1/events", &json!([event("B-A", "fire_lane")]), None);
    assert_eq!(st, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains(r#"`{"events": [...]}`"#),
        "{e}"
    );
    let mut ev = event("B-2", "fire_lane");
    ev["reported_at"] = json!("yesterday");
    let (st, e) = s.post("/v1/events", &ev, None);
    assert_eq!(st, 422);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reported_at"),
        "{e}"
    );
    let big = json!({"id": "B-3", "category": "x", "grid": "G", "reported_at": now_rfc3339(), "description": "x".repeat(10_000)});
    assert_eq!(s.post("/v1/events", &big, None).0, 413);
    // A body declared too large is refused at once: a client that asks
    // `Expect: 100-continue` is not told to upload it first.
    {
        use std::io::{Read, Write};
        let addr = s.base.trim_start_matches("http://");
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            c,
            "POST /v1/events HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 2000000\r\nexpect: 100-continue\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 12];
        c.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&head));
    }
    assert_eq!(s.get("/v1/nothing", None).0, 404);
    let (st, e) = s.get("/v1/policy/rollout", None);
    assert_eq!(st, 405, "{e}");
    assert_eq!(e["error"]["code"], "method_not_allowed");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`GET` is not allowed on /v1/policy/rollout"),
        "{e}"
    );
    // A path segment that is not UTF-8 once decoded: the JSON error too.
    for path in [
        "/v1/events/%FF",
        "/v1/policy/versions/%C3",
        "/v1/simulate/%FF",
    ] {
        let (st, e) = s.get(path, None);
        assert_eq!(st, 400, "{path}: {e}");
        assert_eq!(e["error"]["code"], "bad_path", "{path}: {e}");
    }
    assert_eq!(s.get("/v1/events?state=sleeping", None).0, 400);
    assert_eq!(s.get("/v1/events?limit=0", None).0, 400);
    let (st, e) = s.get("/v1/events?limit=-1", None);
    assert_eq!(st, 400);
    assert_eq!(e["error"]["message"], "`limit` is from 1 to 1000", "{e}");
    assert_eq!(s.get("/v1/events?cursor=forged", None).0, 400);
    // An error that quotes what was sent quotes 1 KiB of it at most.
    let (st, e) = s.get(&format!("/v1/events?cursor={}", "x".repeat(60_000)), None);
    assert_eq!(st, 400, "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.len() <= 1024 + '…'.len_utf8(), "{}", message.len());
    assert!(message.ends_with('…'), "{message}");
    // So does each event's error in a batch's details.
    let mut long = event("LONG-1", "fire_lane");
    long["reported_at"] = json!("x".repeat(1500));
    let (st, e) = s.post("/v1/events", &json!({"events": [long.clone(), long]}), None);
    assert_eq!(st, 422, "{e}");
    let details = e["error"]["details"].to_string();
    assert!(details.contains('…'), "{details}");
    fn longest(v: &Value) -> usize {
        match v {
            Value::String(s) => s.len(),
            Value::Array(a) => a.iter().map(longest).max().unwrap_or(0),
            Value::Object(o) => o.values().map(longest).max().unwrap_or(0),
            _ => 0,
        }
    }
    assert!(
        longest(&e["error"]["details"]) <= 1024 + '…'.len_utf8(),
        "{details}"
    );
    // `/v1/route` decides one event; a batch is told where batches go.
    let (st, e) = s.post(
        "/v1/route",
        &json!({"events": [event("dry", "fire_lane")]}),
        None,
    );
    assert_eq!(st, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one event"),
        "{e}"
    );
    let (st, d) = s.post("/v1/route", &event("dry", "fire_lane"), None);
    assert_eq!(st, 200);
    check_api_schema("Decision", &d);
    assert_eq!(d["lead"], "urban");
    assert_eq!(
        s.get("/v1/events/dry", None).0,
        404,
        "a dry run stores nothing"
    );
}

#[test]
fn an_open_server_refuses_to_listen_beyond_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = common::server::free_port().to_string();
    let out = std::process::Command::new(common::whistle())
        .args(["serve", "--policy"])
        .arg(shipped())
        .arg("--data")
        .arg(&data)
        .args(["--listen", &format!("0.0.0.0:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no tokens are configured") && err.contains(&format!("0.0.0.0:{port}")),
        "{err}"
    );
    assert!(!data.exists(), "refused before the data directory is made");

    // With a token it listens there.
    let cfg = tmp.path().join("whistle.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"0.0.0.0:{port}\"\n[[tokens]]\nname = \"desk\"\nsha256 = \"{}\"\nroles = [\"viewer\"]\n",
            common::token_hash("desk-token")
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(common::whistle())
        .args(["serve", "--policy"])
        .arg(shipped())
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    let up = common::server::wait_for(60, || {
        common::server::agent()
            .get(&format!("http://127.0.0.1:{port}/readyz"))
            .call()
            .is_ok_and(|r| r.status() == 200)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "with a token configured it serves on 0.0.0.0");
    // A log written to a file is plain text, without terminal colours.
    let log = std::fs::read_to_string(tmp.path().join("log")).unwrap();
    assert!(
        log.contains(&format!(
            "listening on http://0.0.0.0:{port}; the policy editor is at http://0.0.0.0:{port}/editor"
        )),
        "{log}"
    );
    assert!(!log.contains('\x1b'), "{log}");
}

#[test]
fn tokens_and_roles_guard_the_api() {
    let data = tempfile::tempdir().unwrap();
    let hash = common::token_hash;
    let cfg = data.path().join("whistle.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[tokens]]\nname = \"app\"\nsha256 = \"{}\"\nroles = [\"reporter\"]\n\n[[tokens]]\nname = \"desk\"\nsha256 = \"{}\"\nroles = [\"handler\", \"viewer\"]\n",
            hash("app-token"),
            hash("desk-token")
        ),
    )
    .unwrap();
    let s = Server::start(&shipped(), &data.path().join("db"), Some(&cfg));
    assert_eq!(
        s.post("/v1/events", &event("A-1", "fire_lane"), None).0,
        401
    );
    assert_eq!(
        s.post("/v1/events", &event("A-1", "fire_lane"), Some("wrong"))
            .0,
        401
    );
    assert_eq!(
        s.post("/v1/events", &event("A-1", "fire_lane"), Some("desk-token"))
            .0,
        403
    );
    assert_eq!(
        s.post("/v1/events", &event("A-1", "fire_lane"), Some("app-token"))
            .0,
        201
    );
    assert_eq!(
        s.post("/v1/events/A-1/accept", &json!({}), Some("app-token"))
            .0,
        403
    );
    assert_eq!(
        s.post("/v1/events/A-1/accept", &json!({}), Some("desk-token"))
            .0,
        200
    );
    assert_eq!(s.get("/v1/events/A-1", None).0, 401);
    assert_eq!(s.get("/v1/events/A-1", Some("desk-token")).0, 200);
    assert_eq!(s.get("/healthz", None).0, 200);
    // A 401 says which scheme to use; the scheme's name is case-insensitive.
    let raw = |authorization: Option<&str>| {
        let mut req = s.agent.get(&format!("{}/v1/events/A-1", s.base));
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        req.call().unwrap()
    };
    let r = raw(None);
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
    assert_eq!(raw(Some("bearer desk-token")).status().as_u16(), 200);
    // A refusal answered before the body is read says the connection
    // closes, so a client does not send its next request on it.
    let refused = s
        .agent
        .post(&format!("{}/v1/events", s.base))
        .header("authorization", "Bearer desk-token")
        .send_json(event("A-2", "fire_lane"))
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(
        refused
            .headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close")
    );
    for _ in 0..20 {
        assert_eq!(
            s.post("/v1/events", &event("A-3", "fire_lane"), Some("desk-token"))
                .0,
            403
        );
        assert_eq!(s.get("/v1/events/A-1", Some("desk-token")).0, 200);
    }
    // A token can ask what it may do (the editor page greys out the rest).
    assert_eq!(s.get("/v1/whoami", None).0, 401);
    let (st, me) = s.get("/v1/whoami", Some("desk-token"));
    assert_eq!(st, 200, "{me}");
    common::check_api_schema("WhoAmI", &me);
    assert_eq!(
        me,
        json!({"token": "desk", "roles": ["handler", "viewer"], "open": false})
    );
    let (_, me) = s.get("/v1/whoami", Some("app-token"));
    assert_eq!(me["roles"], json!(["reporter"]));
}

#[test]
fn without_tokens_a_request_has_every_role() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(&shipped(), data.path(), None);
    let (st, me) = s.get("/v1/whoami", None);
    assert_eq!(st, 200, "{me}");
    common::check_api_schema("WhoAmI", &me);
    assert_eq!(
        me,
        json!({"token": "open", "roles": ["reporter", "handler", "officer", "viewer"], "open": true})
    );
}

const FAST_POLICY: &str = r#"
policy "fast" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street < district
department grid_team "网格工作站" { level grid }
department command "综治中心" { level district }
grades blue < red
grade blue { level grid   respond 2s resolve 4s }
grade red  { level street respond 2s resolve 4s }
category noise { lead grid_team grade blue }
fallback { lead command grade blue }
escalate {
  at 50%  respond -> remind
  at 100% respond -> raise 1, notify command
  at 100% resolve -> raise to district
}
"#;

fn fast_policy(dir: &Path) -> PathBuf {
    let p = dir.join("policy");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("policy.whistle"), FAST_POLICY).unwrap();
    copy_dir(&root().join("policies/wuhou"), &dir.join("unused"));
    std::fs::copy(
        root().join("policies/wuhou/areas.yaml"),
        p.join("areas.yaml"),
    )
    .unwrap();
    p
}

fn fired(s: &Server, id: &str) -> Vec<(String, String)> {
    let (_, e) = s.get(&format!("/v1/events/{id}"), None);
    e["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["body"]["kind"] == "step_fired")
        .map(|h| {
            (
                h["body"]["detail"]["step"].to_string(),
                h["body"]["at"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn escalation_steps_fire_on_time_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let policy = fast_policy(dir.path());
    let s = Server::start(&policy, &dir.path().join("db"), None);
    let (st, d) = s.post("/v1/events", &event("T-1", "noise"), None);
    assert_eq!(st, 201, "{d}");
    let planned: Vec<String> = d["ladder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["at"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(planned.len(), 3);
    std::thread::sleep(Duration::from_millis(5500));
    let steps = fired(&s, "T-1");
    assert_eq!(steps.len(), 3, "{steps:?}");
    // Each fired within a second of its planned instant.
    let (_, e) = s.get("/v1/events/T-1", None);
    for h in e["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["body"]["kind"] == "step_fired")
    {
        let at: jiff::Timestamp = h["body"]["at"].as_str().unwrap().parse().unwrap();
        let due: jiff::Timestamp = h["body"]["detail"]["due"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let lag = at.as_millisecond() - due.as_millisecond();
        assert!(
            (0..1000).contains(&lag),
            "fired {lag} ms after its instant: {h}"
        );
    }
    let (_, e) = s.get("/v1/events/T-1", None);
    assert_eq!(
        e["case"]["level"], "district",
        "raised by the ladder: {}",
        e["case"]
    );
}

#[test]
fn a_killed_server_loses_no_acknowledged_event_and_fires_no_step_twice() {
    let dir = tempfile::tempdir().unwrap();
    let policy = fast_policy(dir.path());
    let s = Server::start(&policy, &dir.path().join("db"), None);
    let base = s.base.clone();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Value)>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (base, acked, stop) = (base.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let id = format!("K-{c}-{i}");
                    i += 1;
                    let Ok(mut r) = agent
                        .post(&format!("{base}/v1/events"))
                        .send_json(event(&id, "noise"))
                    else {
                        break;
                    };
                    if r.status() == 201 {
                        let d: Value = r.body_mut().read_json().unwrap();
                        acked.lock().unwrap().push((id, d));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // SIGKILL while clients are posting.
    let s = s.restart();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "only {} events were acknowledged",
        acked.len()
    );
    for (id, d) in &acked {
        let (st, e) = s.get(&format!("/v1/events/{id}"), None);
        assert_eq!(st, 200, "{id} was acknowledged but is gone");
        assert_eq!(&e["decision"], d);
    }
    let out = Command::new(whistle())
        .args(["verify", "--data"])
        .arg(dir.path().join("db"))
        .output()
        .unwrap();
    // The server holds the store open; verify reads it alongside (WAL).
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Every pending step fires after the restart, and only once.
    std::thread::sleep(Duration::from_millis(5500));
    for (id, _) in acked.iter().step_by(7) {
        let steps = fired(&s, id);
        let mut distinct = steps.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(steps.len(), 3, "{id}: {steps:?}");
        assert_eq!(distinct.len(), 3, "{id} fired a step twice: {steps:?}");
    }
}

#[test]
fn the_api_describes_itself_and_reports_metrics() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(&shipped(), data.path(), None);
    let (st, doc) = s.get("/v1/openapi.json", None);
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/events"]["post"].is_object());
    // The document stands alone: the event and decision schemas are copies
    // of `schemas/`, kept the same (a `$defs` reference is rooted at its
    // component there).
    for (component, file) in [
        ("Event", "schemas/event.schema.json"),
        ("Decision", "schemas/decision.schema.json"),
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap().replace(
            "\"#/$defs/",
            &format!("\"#/components/schemas/{component}/$defs/"),
        );
        let mut schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let obj = schema.as_object_mut().unwrap();
        for key in ["$schema", "$id"] {
            obj.remove(key);
        }
        assert_eq!(
            doc["components"]["schemas"][component], schema,
            "the OpenAPI {component} differs from {file}"
        );
    }
    assert!(
        !doc.to_string().contains("example.invalid"),
        "no reference leaves the document"
    );
    s.post("/v1/events", &event("M-1", "fire_lane"), None);
    // A retry is answered with the stored decision: not a decision made.
    assert_eq!(
        s.post("/v1/events", &event("M-1", "fire_lane"), None).0,
        200
    );
    let text = s
        .agent
        .get(&format!("{}/metrics", s.base))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(text.contains("whistle_decisions_total 1\n"), "{text}");
    assert!(text.contains("whistle_open_events"), "{text}");
    // The event's commit was flushed: the flush times are there.
    assert!(text.contains("whistle_store_flush_seconds_count"), "{text}");
}

/// `whistle serve` of the shipped policy on `data`, expected to be refused
/// at start: a server that starts instead fails the test after a minute.
fn serve_refused(data: &Path) -> std::process::Output {
    run_within(
        &[
            "serve",
            "--policy",
            shipped().to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        Duration::from_secs(60),
    )
}

/// A second server on the same data directory is refused at once, by
/// name; the first goes on serving, and its lock goes with it.
#[test]
fn one_data_directory_serves_one_server() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(&shipped(), data.path(), None);
    let out = serve_refused(data.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("another `whistle serve` is using the data directory"),
        "{}",
        text(&out)
    );
    assert_eq!(s.get("/healthz", None).0, 200);
    // Killed, it leaves no lock behind.
    let again = s.restart();
    assert_eq!(again.get("/healthz", None).0, 200);
}

/// A store cut to nothing is refused by name, not served as a new one:
/// the events it held would be lost without a word.
#[test]
fn an_emptied_store_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    drop(Server::start(&shipped(), data.path(), None));
    let db = data.path().join("whistle.db");
    std::fs::write(&db, b"").unwrap();
    let out = serve_refused(data.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("whistle.db is empty (0 bytes)"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
}

/// A client that sends half its request headers and stops (or sends
/// nothing at all) is disconnected once `header_timeout_ms` has passed,
/// instead of holding a connection for ever.
#[test]
fn slow_request_headers_are_cut_off() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let cfg = data.path().join("whistle.toml");
    std::fs::write(&cfg, "header_timeout_ms = 300\n").unwrap();
    let s = Server::start(&shipped(), &data.path().join("db"), Some(&cfg));
    let addr = s.base.trim_start_matches("http://").to_string();
    for sent in [
        &b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "[..],
        &b""[..],
    ] {
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        conn.write_all(sent).unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        // Closed by the server: the read ends (a timeout here is an error).
        conn.read_to_end(&mut rest).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "closed after {:?}",
            started.elapsed()
        );
        assert!(
            !String::from_utf8_lossy(&rest).contains("200 OK"),
            "{}",
            String::from_utf8_lossy(&rest)
        );
    }
    // Whoever sends their headers in time is served as before.
    assert_eq!(s.get("/healthz", None).0, 200);
}

/// A body that stops arriving half way is answered 408 once
/// `body_timeout_ms` has passed, and the connection does not stay open.
#[test]
fn a_stalled_body_times_out_with_408() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let cfg = data.path().join("whistle.toml");
    std::fs::write(&cfg, "body_timeout_ms = 300\n").unwrap();
    let s = Server::start(&shipped(), &data.path().join("db"), Some(&cfg));
    let mut conn = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":",
    )
    .unwrap();
    let mut answer = vec![0; 4096];
    let n = conn.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");

    // A body that trickles in, a byte well within each 300 ms, is still
    // cut off when the whole of it has taken longer.
    let mut conn = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut written = 0;
    while written < 100 {
        // The server may answer and close before the body is complete.
        if conn.write_all(b" ").is_err() {
            break;
        }
        written += 1;
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let mut buf = vec![0; 4096];
    let n = conn.read(&mut buf).unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("within 300 ms"), "{answer}");
    assert!(written < 20, "cut off after {written} bytes");
}

/// `attr` nested `depth` levels deep (`{"a": 1}` is one).
fn nested_attr(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 1..depth {
        v = json!([v]);
    }
    json!({ "a": v })
}

/// An event nested deeper than a stored case could be read back is
/// refused, naming `attr`; one at the limit is stored, read, listed, and
/// read again by the restarted server (which once could not start).
#[test]
fn an_event_nested_too_deep_is_refused_and_one_at_the_limit_stays_readable() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(&shipped(), data.path(), None);
    let mut deep = event("DEEP-1", "fire_lane");
    deep["attr"] = nested_attr(33);
    let (st, body) = s.post("/v1/events", &deep, None);
    assert_eq!(st, 422, "{body}");
    assert!(
        body.to_string()
            .contains("`attr` nests 33 levels deep; at most 32"),
        "{body}"
    );
    // The same in a batch, and through `route`.
    let (st, body) = s.post("/v1/events", &json!({ "events": [deep] }), None);
    assert_eq!(st, 422, "{body}");
    let out = common::run(
        &["route", "--policy", "policies/wuhou", "--events", "-"],
        deep.to_string().as_bytes(),
    );
    assert!(
        common::text(&out).contains("`attr` nests 33 levels"),
        "{}",
        common::text(&out)
    );
    let mut limit = event("DEEP-2", "fire_lane");
    limit["attr"] = nested_attr(32);
    assert_eq!(s.post("/v1/events", &limit, None).0, 201);
    assert_eq!(s.get("/v1/events/DEEP-2", None).0, 200);
    let s = s.restart();
    let (st, got) = s.get("/v1/events/DEEP-2", None);
    assert_eq!(st, 200, "{got}");
    let (st, page) = s.get("/v1/events", None);
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
}

//! Assessment and threshold warnings end to end: `whistle assess` on a
//! data directory the server wrote, `GET /v1/assessment`, and alerts
//! raised, stored, streamed, kept across a restart and cleared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::server::{Server, civil};
use common::{check_api_schema, run, text};
use serde_json::{Value, json};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An instant `n` seconds ago, in RFC 3339 (UTC).
fn seconds_ago(n: u64) -> String {
    rfc3339(unix_now() - n)
}

/// An instant `secs` after the epoch, in RFC 3339 (UTC).
fn rfc3339(secs: u64) -> String {
    let (y, m, d) = civil((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const POLICY: &str = r#"
policy "t" { version "7" timezone "Asia/Shanghai" }
levels grid < community < street
grades blue < red
grade blue { level grid   respond 2h  resolve 24h }
grade red  { level street respond 30m resolve 72h }
department urban "城管执法中队" { level street }
department grid_team "网格工作站" { level grid }
category litter "垃圾" { lead grid_team  grade blue }
category lane "消防通道" { lead urban  grade blue }
fallback { lead urban grade blue }
threshold burst "垃圾突发" {
  metric count(category == litter) by community over 15s
  when   >= 2
  alert  street
}
threshold daily "每日事件" {
  metric count() by street over 1d
  when   >= 1
  alert  street
}
assess department { on_time_response weight 50  satisfaction weight 50 }
target on_time_response >= 90%
"#;

const AREAS: &str = "districts:
  - id: D01
    streets:
      - id: S01
        communities:
          - id: C01
            grids: [G1, G2]
";

fn bundle(dir: &Path) -> PathBuf {
    let p = dir.join("policy");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("policy.whistle"), POLICY).unwrap();
    std::fs::write(p.join("areas.yaml"), AREAS).unwrap();
    p
}

fn event(id: &str, category: &str, grid: &str, source: &str, at: &str) -> Value {
    json!({"id": id, "category": category, "grid": grid, "source": source, "reported_at": at})
}

fn assess(data: &Path, extra: &[&str]) -> (u8, String, String) {
    let mut args = vec!["assess", "--data", data.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args, b"");
    (
        o.status.code().unwrap_or(-1) as u8,
        String::from_utf8_lossy(&o.stdout).into_owned(),
        text(&o),
    )
}

/// June 2026 in the store: E1 (litter, G1, patrol) accepted late,
/// resolved and rated 5 today; E2 (litter, G2) and E3 (lane, G1) never
/// accepted; E4 reported in July. At the end of June every respond
/// deadline has passed: on time 0 of 3; no feedback yet (E1 was rated
/// after June). From June to today: satisfaction 1 of 1 (E1 only).
#[test]
fn whistle_assess_reads_the_store_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let policy = bundle(dir.path());
    let data = dir.path().join("data");
    {
        let s = Server::start(&policy, &data, None);
        for e in [
            event("E1", "litter", "G1", "patrol", "2026-06-03T10:00:00+08:00"),
            event("E2", "litter", "G2", "citizen", "2026-06-10T10:00:00+08:00"),
            event("E3", "lane", "G1", "hotline", "2026-06-20T10:00:00+08:00"),
            event("E4", "lane", "G2", "citizen", "2026-07-01T00:00:00+08:00"),
        ] {
            let (st, d) = s.post("/v1/events", &e, None);
            assert_eq!(st, 201, "{d}");
        }
        for (verb, body) in [
            ("accept", json!({})),
            ("resolve", json!({})),
            ("feedback", json!({"rating": 5})),
        ] {
            let (st, r) = s.post(&format!("/v1/events/E1/{verb}"), &body, None);
            assert_eq!(st, 200, "{verb}: {r}");
        }
        // The same report over HTTP while the server runs.
        let (st, r) = s.get("/v1/assessment?period=2026-06", None);
        assert_eq!(st, 200, "{r}");
        check_api_schema("AssessmentReport", &r);
        assert_eq!(r["district"]["count"], 3);
        assert_eq!(r["period"]["label"], "2026-06");
        assert!(
            r["district"]["satisfaction"].is_null(),
            "rated after June: {}",
            r["district"]
        );
    }

    let (code, out, all) = assess(&data, &["--period", "2026-06", "--format", "json"]);
    assert_eq!(code, 0, "{all}");
    let r: Value = serde_json::from_str(&out).unwrap();
    check_api_schema("AssessmentReport", &r);
    assert_eq!(
        r["policy"]["version"], "7",
        "the version recorded in the store"
    );
    assert_eq!(r["district"]["count"], 3, "E4 was reported in July");
    assert_eq!(r["district"]["on_time_response"], 0.0);
    assert!(
        r["district"]["satisfaction"].is_null(),
        "E1 was rated after June ended: {}",
        r["district"]
    );
    assert!(r["district"]["mean_resolution_hours"].is_null());
    assert_eq!(r["period"]["facts_at"], "2026-06-30T16:00:00Z");
    let row = |r: &Value, table: &str, id: &str| {
        r[table]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["group"] == id || x["by"] == id)
            .cloned()
            .unwrap()
    };
    let dept = |r: &Value, id: &str| row(&row(r, "groups", "department"), "rows", id);
    assert_eq!(dept(&r, "grid_team")["count"], 2);
    assert_eq!(dept(&r, "grid_team")["name"], "网格工作站");
    assert_eq!(dept(&r, "urban")["count"], 1);
    // Without feedback only on_time_response (weight 50) counts: 0.
    let scores = r["scores"][0]["rows"].as_array().unwrap();
    assert_eq!(scores[0]["score"], 0.0);
    assert_eq!(scores[0]["weight_counted"], 50.0);
    assert_eq!(r["targets"][0]["met"], false);

    // From June to tomorrow (UTC, so that today in Shanghai is in): a
    // period still running, its facts taken now, E1's rating in.
    let (y, m, d) = civil((unix_now() / 86_400 + 1) as i64);
    let running = format!("2026-06-01..{y:04}-{m:02}-{d:02}");
    let (code, out, all) = assess(&data, &["--period", &running, "--format", "json"]);
    assert_eq!(code, 0, "{all}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["district"]["count"], 4, "E4 too");
    assert_eq!(r["district"]["satisfaction"], 1.0);
    assert_eq!(dept(&r, "urban")["count"], 2);
    assert!(dept(&r, "urban")["satisfaction"].is_null());
    // grid_team: 50 × 0 + 50 × 1 = 50; urban: no satisfaction, 0 on the 50 that count.
    let scores = r["scores"][0]["rows"].as_array().unwrap();
    assert_eq!(scores[0]["group"], "grid_team");
    assert_eq!(scores[0]["score"], 50.0);
    assert_eq!(scores[1]["score"], 0.0);
    assert_eq!(scores[1]["weight_counted"], 50.0);

    // --by keeps one kind of group; the policy can be named explicitly.
    let (code, out, all) = assess(
        &data,
        &[
            "--period",
            "2026-Q2",
            "--by",
            "community",
            "--format",
            "json",
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{all}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["groups"].as_array().unwrap().len(), 1);
    assert_eq!(r["groups"][0]["by"], "community");
    assert_eq!(r["groups"][0]["rows"][0]["group"], "C01");
    assert_eq!(r["groups"][0]["rows"][0]["count"], 3);

    // CSV: a header, the district row, one row per group.
    let (code, csv_out, all) = assess(&data, &["--period", "2026-06", "--format", "csv"]);
    assert_eq!(code, 0, "{all}");
    let out = &csv_out;
    let lines: Vec<&str> = out.lines().collect();
    // With a byte-order mark, as the simulator's tables: Excel reads the
    // Chinese names right only so.
    assert!(lines[0].starts_with("\u{feff}by,group,name,count,on_time_response,"));
    assert!(lines[0].ends_with(",mean_resolution_hours,score"));
    assert!(lines[1].starts_with("all,all,,3,0,"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("department,grid_team,网格工作站,2,0,") && l.ends_with(",0")),
        "{out}"
    );

    // --out: the same table, and the scores (with the weight counted) and
    // the targets in files of their own.
    let tables = dir.path().join("tables");
    let (code, out, all) = assess(
        &data,
        &[
            "--period",
            "2026-06",
            "--format",
            "csv",
            "--out",
            tables.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{all}");
    assert!(out.is_empty(), "{out}");
    assert!(
        all.contains("groups.csv") && all.contains("targets.csv"),
        "{all}"
    );
    let read = |name: &str| std::fs::read_to_string(tables.join(name)).unwrap();
    assert_eq!(read("groups.csv"), csv_out);
    let scores: Vec<String> = read("scores.csv").lines().map(String::from).collect();
    assert_eq!(scores[0], "\u{feff}by,group,name,score,weight_counted");
    // No satisfaction yet: scored on the 50 of on-time response.
    assert!(
        scores.contains(&"department,grid_team,网格工作站,0,50".to_string()),
        "{scores:?}"
    );
    assert_eq!(
        read("targets.csv"),
        "\u{feff}metric,op,bound,value,met\non_time_response,>=,0.9,0,false\n"
    );
    // --out writes CSV only.
    let (code, _, all) = assess(
        &data,
        &["--period", "2026-06", "--out", tables.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{all}");
    assert!(
        all.contains("--out writes CSV files: add --format csv"),
        "{all}"
    );

    // The table: aligned columns, with Chinese names two columns wide.
    let (code, out, all) = assess(&data, &["--period", "2026-06", "--by", "department"]);
    assert_eq!(code, 0, "{all}");
    assert!(
        out.contains(
            "Period 2026-06: events reported 2026-06-01 00:00 to 2026-07-01 00:00 (Asia/Shanghai)"
        ),
        "{out}"
    );
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "By department")
        .skip(1)
        .take(3)
        .collect();
    // Ids padded to 10 columns, names to 12 (网格工作站 is 10 columns
    // wide), the event counts right-aligned under `events`.
    assert!(
        rows[0].starts_with("department  name          events  "),
        "{out}"
    );
    assert!(
        rows[1].starts_with("grid_team   网格工作站         2  "),
        "{out}"
    );
    assert!(
        rows[2].starts_with("urban       城管执法中队       1  "),
        "{out}"
    );
    assert!(out.contains("Scores: assess department"), "{out}");
    assert!(
        out.contains("on_time_response  >= 90.0%   0.0%  no"),
        "{out}"
    );

    // A period without events says so instead of printing empty tables.
    let (code, out, all) = assess(&data, &["--period", "2025-06"]);
    assert_eq!(code, 0, "{all}");
    assert!(out.contains("facts at 2025-07-01 00:00: 0 events"), "{out}");
    assert!(
        out.contains("No event was reported in this period: nothing to assess."),
        "{out}"
    );
    assert!(!out.contains("By department"), "{out}");

    // Clear errors.
    let (code, _, all) = assess(&data, &["--period", "2026-13"]);
    assert_eq!(code, 2);
    assert!(
        all.contains("--period: `2026-13` is not a period: `13` is not a month"),
        "{all}"
    );
    let (code, _, all) = assess(&data, &["--period", "2026-06", "--by", "galaxy"]);
    assert_eq!(code, 2);
    assert!(all.contains("--by: unknown group `galaxy`"), "{all}");
    let (code, _, all) = assess(&dir.path().join("nothing"), &["--period", "2026-06"]);
    assert_eq!(code, 2);
    assert!(all.contains("holds no Whistle store"), "{all}");
}

/// A webhook receiver on loopback: answers every POST with 200 and hands
/// over its JSON body.
fn receiver() -> (u16, mpsc::Receiver<Value>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Ok(v) = serde_json::from_slice(&body)
                && tx.send(v).is_err()
            {
                return;
            }
        }
    });
    (port, rx)
}

/// Reads `/v1/stream` on a thread and hands over each SSE line.
fn listen(base: &str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let url = format!("{base}/v1/stream");
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let Ok(r) = agent.get(&url).call() else {
            return;
        };
        let reader = std::io::BufReader::new(r.into_body().into_reader());
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alerts(s: &Server, open: bool) -> Vec<Value> {
    let path = if open {
        "/v1/alerts?open=true"
    } else {
        "/v1/alerts"
    };
    let (st, r) = s.get(path, None);
    assert_eq!(st, 200, "{r}");
    check_api_schema("AlertPage", &r);
    r["alerts"].as_array().unwrap().clone()
}

#[test]
fn thresholds_raise_store_stream_survive_a_restart_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let policy = bundle(dir.path());
    let data = dir.path().join("data");
    let (hook_port, hooks) = receiver();
    let config = dir.path().join("whistle.toml");
    std::fs::write(
        &config,
        format!("[[webhooks]]\nname = \"city\"\nurl = \"http://127.0.0.1:{hook_port}/hook\"\n"),
    )
    .unwrap();
    let s = Server::start(&policy, &data, Some(&config));
    let stream = listen(&s.base);
    std::thread::sleep(Duration::from_millis(300));
    // B1 two seconds before B2, so that they leave the window apart.
    for (id, grid, at) in [("B1", "G1", seconds_ago(2)), ("B2", "G2", seconds_ago(0))] {
        let (st, d) = s.post(
            "/v1/events",
            &event(id, "litter", grid, "citizen", &at),
            None,
        );
        assert_eq!(st, 201, "{d}");
    }
    // Two litter events in C01 within 15 s: `burst`; any event: `daily`.
    wait_for("two open alerts", Duration::from_secs(8), || {
        alerts(&s, true).len() == 2
    });
    let open = alerts(&s, true);
    let burst = open.iter().find(|a| a["threshold"] == "burst").unwrap();
    assert_eq!(burst["group"], "C01");
    assert_eq!(burst["by"], "community");
    assert_eq!(burst["value"], 2.0);
    assert_eq!(burst["notify"], "street S01");
    assert_eq!(burst["display"], "垃圾突发");
    assert_eq!(burst["open"], true);
    let daily = open.iter().find(|a| a["threshold"] == "daily").unwrap();
    assert_eq!(daily["group"], "S01");
    // A page at a time: each alert once, then an empty page.
    let mut ids = Vec::new();
    let mut path = "/v1/alerts?limit=1".to_string();
    for _ in 0..3 {
        let (st, r) = s.get(&path, None);
        assert_eq!(st, 200, "{r}");
        ids.extend(
            r["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].clone()),
        );
        match r["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/alerts?limit=1&cursor={c}"),
            None => break,
        }
    }
    let mut all: Vec<Value> = open.iter().map(|a| a["id"].clone()).collect();
    all.sort_by_key(|v| -v.as_i64().unwrap());
    assert_eq!(ids, all, "newest first, each once");
    let (st, r) = s.get("/v1/alerts?cursor=forged", None);
    assert_eq!(st, 400, "{r}");

    // Both went out on the live stream.
    let mut seen = Vec::new();
    let t = Instant::now();
    while seen
        .iter()
        .filter(|l: &&String| l.starts_with("event: alert"))
        .count()
        < 2
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "no alert on the stream: {seen:?}"
        );
        if let Ok(l) = stream.recv_timeout(Duration::from_millis(200)) {
            seen.push(l);
        }
    }
    let data_line = seen
        .iter()
        .skip_while(|l| !l.starts_with("event: alert"))
        .find(|l| l.starts_with("data:"))
        .unwrap();
    let payload: Value =
        serde_json::from_str(data_line.trim_start_matches("data:").trim()).unwrap();
    assert_eq!(payload["kind"], "alert");
    assert_eq!(payload["raised"], true);

    // And to the webhook, among the transitions.
    let mut posted = Vec::new();
    let t = Instant::now();
    while posted.len() < 2 {
        assert!(t.elapsed() < Duration::from_secs(10), "no alert posted");
        if let Ok(v) = hooks.recv_timeout(Duration::from_millis(200))
            && v["kind"] == "alert"
        {
            posted.push(v);
        }
    }
    let burst_hook = posted.iter().find(|v| v["threshold"] == "burst").unwrap();
    assert_eq!(burst_hook["raised"], true);
    assert_eq!(burst_hook["group"], "C01");

    // Restarted, the server rebuilds its monitor and repeats nothing.
    let s = s.restart();
    let open = alerts(&s, true);
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(alerts(&s, false).len(), 2);

    // `burst` clears once B1 leaves its 15-second window; `daily` stays.
    wait_for("burst to clear", Duration::from_secs(20), || {
        alerts(&s, true).len() == 1
    });
    let all = alerts(&s, false);
    let burst = all.iter().find(|a| a["threshold"] == "burst").unwrap();
    assert_eq!(burst["open"], false);
    assert!(burst["cleared_at"].is_string());
    assert_eq!(burst["cleared_value"], 1.0);
    assert_eq!(alerts(&s, true)[0]["threshold"], "daily");
}

/// An alert that cleared while the server was down is cleared by the
/// rebuild at start, and counted in `/metrics` like a live one.
#[test]
fn an_alert_cleared_while_down_is_cleared_and_counted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let policy = bundle(dir.path());
    let data = dir.path().join("data");
    let mut s = Server::start(&policy, &data, None);
    for (id, grid) in [("W1", "G1"), ("W2", "G2")] {
        let (st, d) = s.post(
            "/v1/events",
            &event(id, "litter", grid, "citizen", &seconds_ago(0)),
            None,
        );
        assert_eq!(st, 201, "{d}");
    }
    wait_for("burst", Duration::from_secs(5), || {
        alerts(&s, true).iter().any(|a| a["threshold"] == "burst")
    });
    s.kill();
    // `burst` counts 15 seconds: both events leave it while the server is down.
    std::thread::sleep(Duration::from_secs(16));
    let s = Server::start(&policy, &data, None);
    let burst: Vec<Value> = alerts(&s, false)
        .into_iter()
        .filter(|a| a["threshold"] == "burst")
        .collect();
    assert_eq!(burst.len(), 1, "{burst:?}");
    assert_eq!(burst[0]["open"], false, "{burst:?}");
    let metrics = s.metrics();
    assert!(
        metrics.contains(r#"whistle_alerts_total{threshold="burst",raised="false"} 1"#),
        "{metrics}"
    );
}

/// The events of one batch are taken in at one instant: an alert they
/// raise says its value after all of them, not after the first few.
#[test]
fn a_batch_raises_its_alert_once_with_every_event_counted() {
    let dir = tempfile::tempdir().unwrap();
    let policy = bundle(dir.path());
    let s = Server::start(&policy, &dir.path().join("data"), None);
    let at = seconds_ago(0);
    let events: Vec<Value> = (0..300)
        .map(|i| {
            event(
                &format!("K{i}"),
                "litter",
                if i % 2 == 0 { "G1" } else { "G2" },
                "citizen",
                &at,
            )
        })
        .collect();
    let (st, r) = s.post("/v1/events", &json!({ "events": events }), None);
    assert_eq!(st, 201, "{r}");
    wait_for("burst", Duration::from_secs(5), || {
        alerts(&s, true).iter().any(|a| a["threshold"] == "burst")
    });
    let burst: Vec<Value> = alerts(&s, false)
        .into_iter()
        .filter(|a| a["threshold"] == "burst")
        .collect();
    assert_eq!(burst.len(), 1, "{burst:?}");
    assert_eq!(
        (&burst[0]["value"], &burst[0]["counted"]),
        (&json!(300.0), &json!(300)),
        "{burst:?}"
    );
}

/// An event reported a little ahead of the clock counts from when it was
/// received: a restart rebuilds the monitor as it stood, and neither
/// clears nor raises again the alert that event helped raise.
#[test]
fn an_alert_raised_by_an_event_reported_ahead_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let policy = bundle(dir.path());
    let data = dir.path().join("data");
    let s = Server::start(&policy, &data, None);
    let ahead = rfc3339(unix_now() + 60);
    for (id, grid, at) in [("F1", "G1", seconds_ago(0)), ("F2", "G2", ahead)] {
        let (st, d) = s.post(
            "/v1/events",
            &event(id, "litter", grid, "citizen", &at),
            None,
        );
        assert_eq!(st, 201, "{d}");
    }
    wait_for("burst", Duration::from_secs(5), || {
        alerts(&s, true).iter().any(|a| a["threshold"] == "burst")
    });
    let before = alerts(&s, false);
    let s = s.restart();
    let after = alerts(&s, false);
    assert_eq!(
        after
            .iter()
            .map(|a| (&a["id"], &a["open"]))
            .collect::<Vec<_>>(),
        before
            .iter()
            .map(|a| (&a["id"], &a["open"]))
            .collect::<Vec<_>>(),
        "{after:?}"
    );
}

#[test]
fn the_assessment_api_names_a_bad_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let policy = bundle(dir.path());
    let s = Server::start(&policy, &dir.path().join("data"), None);
    let (st, d) = s.post(
        "/v1/events",
        &event("A1", "lane", "G2", "sensor", &seconds_ago(0)),
        None,
    );
    assert_eq!(st, 201, "{d}");
    // A range of days around today, whatever the time zone makes of it.
    let days = (unix_now() / 86_400) as i64;
    let day = |d: i64| {
        let (y, m, dd) = civil(d);
        format!("{y:04}-{m:02}-{dd:02}")
    };
    let period = format!("{}..{}", day(days - 1), day(days + 1));
    let (st, r) = s.get(&format!("/v1/assessment?period={period}&by=street"), None);
    assert_eq!(st, 200, "{r}");
    check_api_schema("AssessmentReport", &r);
    assert_eq!(r["groups"][0]["by"], "street");
    assert_eq!(r["groups"][0]["rows"][0]["count"], 1);
    assert_eq!(r["district"]["active_discovery"], 1.0, "from a sensor");
    for (q, word) in [
        ("period=2026-13", "`period`"),
        ("period=soon", "`period`"),
        ("", "`period` is required"),
        ("period=2026-06&by=galaxy", "`by`"),
        ("period=2026-06&colour=red", "unknown field"),
    ] {
        let (st, r) = s.get(&format!("/v1/assessment?{q}"), None);
        assert_eq!(st, 400, "{q}: {r}");
        let msg = r["error"]["message"].as_str().unwrap();
        assert!(msg.contains(word), "{q}: {msg}");
    }
    for q in ["limit=0", "limit=-1"] {
        let (st, r) = s.get(&format!("/v1/alerts?{q}"), None);
        assert_eq!(st, 400, "{r}");
        assert_eq!(
            r["error"]["message"], "`limit` is from 1 to 1000",
            "{q}: {r}"
        );
    }
}

//! Policy rollout on a running server: hot reload from the bundle
//! directory under load, a broken policy that never goes live, rollout
//! from the API with its path checks, rollback to the exact earlier hash,
//! impact preview and redecision of open events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::drafts::{LEAD_A, LEAD_B, ORDER, order_text, setup};
use common::server::{Server, now_rfc3339};
use common::{check_api_schema, run};
use serde_json::{Value, json};

/// Saves a file the way editors do: a temporary, then a rename over it.
fn save(path: &Path, text: &str) {
    let tmp = path.with_file_name(".save.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn noise(id: &str) -> Value {
    json!({"id": id, "category": "neighbour_noise", "grid": "G010101",
           "source": "citizen", "reported_at": now_rfc3339()})
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
    t.elapsed()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[test]
fn reloads_under_load_fail_no_request_and_never_go_live_broken() {
    let (_tmp, policy, data) = setup();
    let original = order_text(&policy);
    assert!(original.contains(LEAD_A));
    let text_b = original.replacen(LEAD_A, LEAD_B, 1);
    let broken = original.replacen(LEAD_A, "lead   nobody_at_all {", 1);
    let s = Server::start(&policy, &data, None);
    let hash_a = s.live_hash();

    // The load: a steady stream of batches of 50 events, at least 2,000 a
    // second (3,000 asked), from three clients, while the policy changes
    // under it.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let decisions = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let (base, stop, sent, failures, decisions) = (
                s.base.clone(),
                stop.clone(),
                sent.clone(),
                failures.clone(),
                decisions.clone(),
            );
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                let start = Instant::now();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Pace each client to 1,000 events a second.
                    let due = Duration::from_secs_f64(n as f64 / 1000.0);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let batch: Vec<Value> =
                        (0..50).map(|i| noise(&format!("L{c}-{n}-{i}"))).collect();
                    n += 50;
                    let r = agent
                        .post(&format!("{base}/v1/events"))
                        .send_json(json!({ "events": batch }));
                    match r {
                        Ok(mut r) if r.status() == 201 => {
                            let v: Value = r.body_mut().read_json().unwrap();
                            let mut d = decisions.lock().unwrap();
                            for item in v["results"].as_array().unwrap() {
                                assert_eq!(item["status"], 201, "{item}");
                                let dec = &item["decision"];
                                d.push((
                                    dec["policy"]["hash"].as_str().unwrap().to_string(),
                                    dec["lead"].as_str().unwrap().to_string(),
                                ));
                            }
                            sent.fetch_add(50, Ordering::Relaxed);
                        }
                        Ok(mut r) => failures.lock().unwrap().push(format!(
                            "{}: {}",
                            r.status(),
                            r.body_mut().read_to_string().unwrap_or_default()
                        )),
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();

    // 50 saves: valid B, valid A, broken, in turn. A valid save is timed
    // from the rename to the first moment the new version decides.
    let started = Instant::now();
    let mut hash_b = None;
    let mut lags = Vec::new();
    let mut rejected = 0;
    for i in 0..50 {
        let path = policy.join(ORDER);
        match i % 3 {
            0 | 1 => {
                let (text, want) = if i % 3 == 0 {
                    (&text_b, hash_b.clone())
                } else {
                    (&original, Some(hash_a.clone()))
                };
                let before = s.live_hash();
                let t = Instant::now();
                save(&path, text);
                wait_for("the new version", Duration::from_secs(20), || {
                    let h = s.live_hash();
                    h != before && want.as_ref().is_none_or(|w| *w == h)
                });
                lags.push(t.elapsed().as_secs_f64() * 1000.0);
                if hash_b.is_none() {
                    hash_b = Some(s.live_hash());
                }
            }
            _ => {
                let before = s.live_hash();
                let seen = |s: &Server| s.get("/v1/policy/status", None).1;
                let last_at = seen(&s)["last_reload"]["at"].clone();
                save(&path, &broken);
                wait_for("the rejection", Duration::from_secs(20), || {
                    let st = seen(&s);
                    st["last_reload"]["at"] != last_at && st["last_reload"]["outcome"] == "rejected"
                });
                rejected += 1;
                let st = seen(&s);
                let rendered = st["last_reload"]["rendered"].as_str().unwrap();
                assert!(rendered.contains("categories/order.whistle:"), "{rendered}");
                assert_eq!(s.live_hash(), before, "a broken policy went live");
                // Put the last valid text back for the next round.
                let back = if before == hash_a { &original } else { &text_b };
                save(&path, back);
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "failed requests: {:?}",
        &failures[..failures.len().min(5)]
    );
    let total = sent.load(Ordering::Relaxed);
    let rate = total as f64 / elapsed.as_secs_f64();
    assert!(rate >= 2000.0, "the load ran at only {rate:.0} events/s");

    // Every decision was made by exactly one of the two valid versions,
    // and says what that version says.
    let hash_b = hash_b.unwrap();
    let decisions = decisions.lock().unwrap();
    let (mut by_a, mut by_b) = (0, 0);
    for (hash, lead) in decisions.iter() {
        if *hash == hash_a {
            assert_eq!(lead, "grid_team");
            by_a += 1;
        } else if *hash == hash_b {
            assert_eq!(lead, "committee");
            by_b += 1;
        } else {
            panic!("a decision by an unknown version {hash}");
        }
    }
    assert!(by_a > 0 && by_b > 0);
    assert_eq!(rejected, 16);

    lags.sort_by(f64::total_cmp);
    eprintln!(
        "reload under load: {total} events in {:.1} s ({rate:.0}/s), {} valid reloads, {rejected} rejected; \
         write → deciding: median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        elapsed.as_secs_f64(),
        lags.len(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags[lags.len() - 1],
    );
    let (_, metrics) = (0, s.agent.get(&format!("{}/metrics", s.base)).call());
    let text = metrics.unwrap().body_mut().read_to_string().unwrap();
    assert!(
        text.contains("whistle_policy_reloads_total{outcome=\"rejected\"}"),
        "{text}"
    );
}

#[test]
fn rollout_checks_paths_and_drafts_and_rollback_restores_the_exact_hash() {
    let (_tmp, policy, data) = setup();
    let original = order_text(&policy);
    let s = Server::start(&policy, &data, None);
    let h0 = s.live_hash();

    // Paths outside the bundle are refused, and nothing is written.
    for bad in [
        "../../etc/x",
        "/etc/x.whistle",
        "../outside.whistle",
        "notes.txt",
    ] {
        let (code, v) = s.post(
            "/v1/policy/rollout",
            &json!({"files": {bad: "policy \"x\" {}"}}),
            None,
        );
        assert_eq!(code, 422, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "bad_path", "{v}");
    }
    assert!(!policy.parent().unwrap().join("outside.whistle").exists());
    // A name the file system would refuse is a bad path for both, not a
    // draft found good and then a failed write.
    let long = format!("{}.whistle", "a".repeat(300));
    for endpoint in ["/v1/policy/rollout", "/v1/policy/check"] {
        let (code, v) = s.post(endpoint, &json!({"files": {&long: "# x"}}), None);
        assert_eq!(code, 422, "{endpoint}: {v}");
        assert_eq!(v["error"]["code"], "bad_path", "{endpoint}: {v}");
    }
    // A file where the draft needs a folder, or a folder where it writes a
    // file, is the client's mistake, found before anything is written: a
    // 422, not a failed reload that the status and metrics would report.
    std::fs::create_dir(policy.join("folder.whistle")).unwrap();
    for (files, said) in [
        (
            json!({"areas.yaml/x.whistle": "# x"}),
            "`areas.yaml` is a file",
        ),
        (
            json!({"folder.whistle": "# x"}),
            "`folder.whistle` is a folder",
        ),
        (
            json!({"new.whistle": "# x", "new.whistle/y.whistle": "# y"}),
            "`new.whistle` is a file",
        ),
    ] {
        let (code, v) = s.post("/v1/policy/rollout", &json!({ "files": files }), None);
        assert_eq!(
            (code, &v["error"]["code"]),
            (422, &json!("bad_path")),
            "{v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(said), "{message}");
    }
    assert!(!policy.join("new.whistle").exists());
    let (_, status) = s.get("/v1/policy/status", None);
    assert_ne!(status["last_reload"]["outcome"], "failed", "{status}");
    // A draft of nothing is not a bad path; deleting a file the bundle
    // does not have is a mistaken path, refused before anything runs.
    let (code, v) = s.post("/v1/policy/rollout", &json!({}), None);
    assert_eq!(
        (code, &v["error"]["code"]),
        (422, &json!("empty_draft")),
        "{v}"
    );
    for endpoint in ["/v1/policy/rollout", "/v1/policy/check"] {
        let (code, v) = s.post(endpoint, &json!({"delete": ["nope.whistle"]}), None);
        assert_eq!(code, 422, "{endpoint}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`nope.whistle` is not in the bundle"),
            "{endpoint}: {v}"
        );
    }
    // A draft that deletes what the rest needs: the errors point at the
    // files left, so the answer names the one deleted.
    for endpoint in ["/v1/policy/rollout", "/v1/policy/preview"] {
        let (code, v) = s.post(endpoint, &json!({"delete": ["policy.whistle"]}), None);
        assert_eq!(code, 422, "{endpoint}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().ends_with(
                " (the draft deletes `policy.whistle`: what it declared is missing now)"
            ),
            "{endpoint}: {v}"
        );
    }
    assert!(
        policy.join("policy.whistle").exists(),
        "nothing was deleted"
    );

    // A draft with errors answers with its diagnostics and changes nothing.
    let broken = original.replacen(LEAD_A, "lead   nobody", 1);
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: broken}}),
        None,
    );
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["error"]["code"], "policy_errors");
    let rendered = v["error"]["details"]["rendered"].as_str().unwrap();
    assert!(rendered.contains("categories/order.whistle:"), "{rendered}");
    assert!(rendered.contains("nobody"), "{rendered}");
    // Diagnostics are given whole, however long (only what quotes a
    // client's input is cut).
    let many: String = (0..20)
        .map(|i| format!("category extra_{i} {{ lead nobody_{i} grade blue }}\n"))
        .collect();
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {"extra.whistle": many}}),
        None,
    );
    assert_eq!(code, 422, "{v}");
    let rendered = v["error"]["details"]["rendered"].as_str().unwrap();
    assert!(rendered.len() > 2048, "{}", rendered.len());
    assert!(rendered.contains("nobody_19"), "{rendered}");
    assert_eq!(order_text(&policy), original);
    assert_eq!(s.live_hash(), h0);
    // Checked rather than rolled out, the same draft is a 200 that holds
    // its errors, and no draft hash.
    let (code, c) = s.post("/v1/policy/check", &json!({"files": {ORDER: broken}}), None);
    assert_eq!(code, 200, "{c}");
    check_api_schema("CheckResult", &c);
    assert!(c["errors"].as_u64().unwrap() > 0, "{c}");
    assert_eq!(
        (&c["draft"], &c["tests"]),
        (&Value::Null, &Value::Null),
        "{c}"
    );

    // A valid draft checks clean, then goes live, is written into the
    // bundle and decides.
    let text_b = original.replacen(LEAD_A, LEAD_B, 1);
    let (code, c) = s.post("/v1/policy/check", &json!({"files": {ORDER: text_b}}), None);
    assert_eq!(code, 200, "{c}");
    check_api_schema("CheckResult", &c);
    assert_eq!((&c["errors"], &c["live"]), (&json!(0), &json!(h0)), "{c}");
    assert_eq!(c["draft"]["same_as_live"], false, "{c}");
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: text_b}}),
        None,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["outcome"], "applied");
    let h1 = v["version"]["hash"].as_str().unwrap().to_string();
    assert_ne!(h1, h0);
    assert_eq!(v["previous"], h0);
    let summary = v["version"]["summary"].as_str().unwrap();
    assert!(summary.contains("neighbour_noise"), "{summary}");
    assert_eq!(order_text(&policy), text_b);
    let (code, d) = s.post("/v1/events", &noise("R1"), None);
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["lead"], "committee");
    assert_eq!(d["policy"]["hash"], h1);
    let (code, live) = s.get("/v1/policy", None);
    assert_eq!(code, 200, "{live}");
    check_api_schema("ActivePolicy", &live);
    assert_eq!(
        (&live["hash"], &live["by"]),
        (&json!(h1), &json!("rollout by open")),
        "{live}"
    );

    // Both versions are on record, with their files.
    let (_, list) = s.get("/v1/policy/versions", None);
    check_api_schema("PolicyVersions", &list);
    let hashes: Vec<&str> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["hash"].as_str().unwrap())
        .collect();
    assert!(
        hashes.contains(&h0.as_str()) && hashes.contains(&h1.as_str()),
        "{list}"
    );
    let (code, one) = s.get(&format!("/v1/policy/versions/{h0}"), None);
    assert_eq!(code, 200);
    check_api_schema("PolicyVersion", &one);
    assert_eq!(one["files"][ORDER], original);
    // What is no hash at all is said to be so, as typed, not looked up.
    for (path, typed) in [
        ("/v1/policy/versions/sha256:0000", "sha256:0000"),
        ("/v1/policy/versions/abc", "abc"),
    ] {
        let (code, v) = s.get(path, None);
        assert_eq!(code, 404, "{v}");
        let said = v["error"]["message"].as_str().unwrap();
        assert!(
            said.starts_with(&format!("`{typed}` is not a version's hash")),
            "{v}"
        );
    }
    let (code, v) = s.post("/v1/policy/rollback/xyz", &json!({}), None);
    assert_eq!(code, 404, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("`xyz` is not"),
        "{v}"
    );
    let (_, st) = s.get("/v1/policy/status", None);
    assert_ne!(st["last_reload"]["hash"], "sha256:xyz", "{st}");

    // Rollback in one step restores the exact earlier hash and files.
    let (code, v) = s.post(&format!("/v1/policy/rollback/{h0}"), &json!({}), None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(s.live_hash(), h0);
    assert_eq!(order_text(&policy), original);
    let (code, d) = s.post("/v1/events", &noise("R2"), None);
    assert_eq!(code, 201);
    assert_eq!(d["lead"], "grid_team");
    let (code, _) = s.post("/v1/policy/rollback/sha256:feed", &json!({}), None);
    assert_eq!(code, 404);
    // h0 went live twice (start-up, rollback); only the newest is in force.
    let (_, list) = s.get("/v1/policy/versions", None);
    let in_force: Vec<&Value> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["active"] == true)
        .collect();
    assert_eq!(in_force.len(), 1, "{list}");
    assert_eq!(in_force[0]["by"], "rollback by open", "{list}");

    // Rollout and rollback are in the journal's hash chain.
    drop(s);
    let db = || std::fs::read(data.join("whistle.db")).unwrap();
    let before = db();
    let out = run(&["verify", "--data", data.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", common::text(&out));
    // An audit writes nothing to the database (SQLite may leave its empty
    // `-wal` and `-shm` beside it, as any reader of a WAL database does).
    assert!(before == db(), "verify changed the database");
}

/// Two officers, one file: a rollout made from an older version does not
/// undo a change made to its file since; a rollback does not throw away
/// files on disk that never went live unless told to.
/// A client whose 201 was lost retries; meanwhile a new `event.schema.json`
/// went live that the event's attributes break. The retry is the same
/// event, stored already: it gets its stored decision, not a refusal. A
/// new event with the same attributes is refused by the new rule.
#[test]
fn a_retry_of_a_stored_event_is_answered_after_the_rules_change() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    let event = json!({"id": "SC1", "category": "fire_lane", "grid": "G010101",
        "reported_at": "2026-06-03T09:00:00+08:00", "attr": {"people_trapped": "lots"}});
    let (code, first) = s.post("/v1/events", &event, None);
    assert_eq!(code, 201, "{first}");
    let schema = json!({"type": "object", "additionalProperties": true,
        "properties": {"people_trapped": {"type": "integer", "minimum": 0}}});
    let draft = json!({"files": {"event.schema.json": schema.to_string()}});
    let (code, v) = s.post("/v1/policy/rollout", &draft, None);
    assert_eq!((code, &v["outcome"]), (200, &json!("applied")), "{v}");
    let (code, again) = s.post("/v1/events", &event, None);
    assert_eq!(code, 200, "{again}");
    assert_eq!(again, first);
    let (code, v) = s.post("/v1/events", &json!({"events": [event.clone()]}), None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["results"][0]["status"], 200, "{v}");
    let mut other = event.clone();
    other["id"] = json!("SC2");
    let (code, v) = s.post("/v1/events", &other, None);
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("event.schema.json"),
        "{v}"
    );
}

#[test]
fn rollout_and_rollback_never_undo_work_they_did_not_see() {
    let (_tmp, policy, data) = setup();
    let original = order_text(&policy);
    let s = Server::start(&policy, &data, None);
    let h0 = s.live_hash();
    // Officer B changes the file on disk; it goes live.
    let by_b = original.replacen(LEAD_A, LEAD_B, 1);
    save(&policy.join(ORDER), &by_b);
    wait_for("B's change to go live", Duration::from_secs(10), || {
        s.live_hash() != h0
    });
    let h1 = s.live_hash();
    // Officer A's draft of the same file, made from h0, is refused.
    let by_a = original.replacen(
        "category neighbour_noise",
        "# A's note\ncategory neighbour_noise",
        1,
    );
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: by_a}, "base": h0}),
        None,
    );
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "conflict", "{v}");
    assert_eq!(v["error"]["details"]["files"], json!([ORDER]), "{v}");
    assert_eq!(order_text(&policy), by_b, "B's change stays");
    assert_eq!(s.live_hash(), h1);
    // Made from h1, the same kind of edit goes through; a base the server
    // does not hold is a conflict too.
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: by_b.replacen("category neighbour_noise", "# A's note\ncategory neighbour_noise", 1)}, "base": h1}),
        None,
    );
    assert_eq!(code, 200, "{v}");
    let h2 = s.live_hash();
    // The same rollout sent again (its answer lost): the disk is already
    // as it asks, nothing is undone, and it is no conflict.
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: by_b.replacen("category neighbour_noise", "# A's note\ncategory neighbour_noise", 1)}, "base": h1}),
        None,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(s.live_hash(), h2);
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: original}, "base": format!("sha256:{}", "0".repeat(64))}),
        None,
    );
    assert_eq!(code, 409, "{v}");
    assert_eq!(s.live_hash(), h2);
    // A base that is no version's hash at all, or one about a file the
    // draft does not touch (which would check nothing), is a mistake.
    for (base, said) in [
        (json!("sha256:0123"), "is not a version's hash"),
        (json!(5), "`base` is a version's hash"),
        (json!({"policy.whistle": h2}), "neither writes nor deletes"),
    ] {
        let body = json!({"files": {ORDER: original}, "base": base});
        let (code, v) = s.post("/v1/policy/rollout", &body, None);
        assert_eq!(code, 422, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(said), "{v}");
    }
    assert_eq!(s.live_hash(), h2);
    // Check and preview take the rollout's body as it is: its `base` is
    // checked for form, not compared with the disk (ROLLOUT.md: "same body").
    let by_c = original.replacen(
        "category neighbour_noise",
        "# C\ncategory neighbour_noise",
        1,
    );
    for endpoint in ["/v1/policy/check", "/v1/policy/preview"] {
        let (code, v) = s.post(endpoint, &json!({"files": {ORDER: by_c}, "base": h0}), None);
        assert_eq!(code, 200, "{endpoint}: {v}");
        let (code, v) = s.post(
            endpoint,
            &json!({"files": {ORDER: by_c}, "base": "sha256:0123"}),
            None,
        );
        assert_eq!(code, 422, "{endpoint}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not a version's hash"),
            "{v}"
        );
    }
    // A base per file: only the file made from a stale version is named.
    let header = std::fs::read_to_string(policy.join("policy.whistle")).unwrap();
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({
            "files": {ORDER: original, "policy.whistle": format!("# x\n{header}")},
            "base": {ORDER: h0, "policy.whistle": h2},
        }),
        None,
    );
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["details"]["files"], json!([ORDER]), "{v}");
    assert_eq!(s.live_hash(), h2);

    // A half-written new file, refused: rolling back would delete it.
    let wip = policy.join("categories/wip.whistle");
    save(&wip, "category wip \"草稿\" {\n  lead urban\n");
    wait_for("the refusal", Duration::from_secs(10), || {
        s.get("/v1/policy/status", None).1["last_reload"]["outcome"] == "rejected"
    });
    let (code, v) = s.post(&format!("/v1/policy/rollback/{h0}"), &json!({}), None);
    assert_eq!(code, 409, "{v}");
    assert_eq!(
        v["error"]["details"]["files"],
        json!(["categories/wip.whistle"]),
        "{v}"
    );
    assert!(wip.exists());
    assert_eq!(s.live_hash(), h2);
    // Refusals that wrote nothing (the conflict above, a draft with
    // errors) leave the status telling of the broken save.
    let (code, v) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: "category {"}}),
        None,
    );
    assert_eq!(code, 422, "{v}");
    let (_, st) = s.get("/v1/policy/status", None);
    assert_eq!(st["last_reload"]["outcome"], "rejected", "{st}");
    assert_eq!(st["last_reload"]["by"], "file watch", "{st}");
    let rendered = st["last_reload"]["rendered"].as_str().unwrap();
    assert!(rendered.contains("categories/wip.whistle"), "{st}");
    // Told to discard it, the rollback goes ahead.
    let (code, v) = s.post(
        &format!("/v1/policy/rollback/{h0}?discard=true"),
        &json!({}),
        None,
    );
    assert_eq!(code, 200, "{v}");
    assert!(!wip.exists());
    assert_eq!(s.live_hash(), h0);
    assert_eq!(order_text(&policy), original);
    // The watcher's echo of the rollback's own writes does not hide it.
    std::thread::sleep(Duration::from_millis(600));
    let (_, st) = s.get("/v1/policy/status", None);
    check_api_schema("PolicyStatus", &st);
    assert_eq!(st["last_reload"]["outcome"], "applied", "{st}");
    assert_eq!(st["last_reload"]["by"], "rollback by open", "{st}");
    // Nor does a rollback to a version the store does not hold.
    let (code, v) = s.post(
        &format!("/v1/policy/rollback/sha256:{}", "1".repeat(64)),
        &json!({}),
        None,
    );
    assert_eq!(code, 404, "{v}");
    let (_, st) = s.get("/v1/policy/status", None);
    assert_eq!(st["last_reload"]["outcome"], "applied", "{st}");
    let (code, v) = s.post("/v1/policy/rollback/h0?discard=maybe", &json!({}), None);
    assert_eq!(code, 400, "{v}");
}

#[test]
fn preview_and_redecide_show_and_apply_a_change() {
    let (_tmp, policy, data) = setup();
    let original = order_text(&policy);
    let s = Server::start(&policy, &data, None);
    for i in 0..6 {
        let (code, v) = s.post("/v1/events", &noise(&format!("P{i}")), None);
        assert_eq!(code, 201, "{v}");
    }
    let text_b = original.replacen(LEAD_A, LEAD_B, 1);
    let (code, p) = s.post(
        "/v1/policy/preview",
        &json!({"files": {ORDER: text_b}, "days": 1}),
        None,
    );
    assert_eq!(code, 200, "{p}");
    check_api_schema("Preview", &p);
    assert_eq!(p["events"], 6);
    let text = p.to_string();
    assert!(text.contains("neighbour_noise"), "{p}");
    // The preview changed nothing.
    assert_eq!(order_text(&policy), original);
    let (code, bad) = s.post(
        "/v1/policy/preview",
        &json!({"files": {ORDER: "x"}, "days": 0}),
        None,
    );
    assert_eq!(code, 422, "{bad}");
    // A body of the wrong shape is told in JSON's words, not the
    // server's names for its types.
    for (body, said) in [
        (json!(null), "expected a JSON object"),
        (
            json!({"files": {ORDER: "x"}, "days": -1}),
            "`days` is from 1 to 3660, not -1",
        ),
        (
            json!({"files": {ORDER: "x"}, "days": 100_000_000_000_i64}),
            "`days` is from 1 to 3660, not 100000000000",
        ),
        (json!({"files": [1]}), "expected an object"),
        // Read positionally, an array would be taken for `files`.
        (json!([{"zz.whistle": "# x\n"}]), "expected a JSON object"),
    ] {
        let (code, bad) = s.post("/v1/policy/preview", &body, None);
        assert_eq!(code, 422, "{bad}");
        let message = bad["error"]["message"].as_str().unwrap();
        assert!(message.contains(said), "{body}: {message}");
        assert!(
            !message.contains("struct") && !message.contains("u32"),
            "{message}"
        );
    }
    let (code, bad) = s.post(
        "/v1/policy/rollout",
        &json!([{"zz.whistle": "# x\n"}]),
        None,
    );
    assert_eq!(code, 422, "{bad}");
    assert!(!policy.join("zz.whistle").exists(), "nothing was written");

    let (code, _) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: text_b}}),
        None,
    );
    assert_eq!(code, 200);
    // Open events keep their decision until an officer asks otherwise.
    let (_, e) = s.get("/v1/events/P0", None);
    assert_eq!(e["case"]["lead"], "grid_team");
    // A body with fields would be a wish ignored: refused, nothing moved.
    let (code, r) = s.post("/v1/policy/redecide", &json!({"only": ["P0"]}), None);
    assert_eq!(code, 422, "{r}");
    assert_eq!(s.get("/v1/events/P0", None).1["case"]["lead"], "grid_team");
    let (code, r) = s.post("/v1/policy/redecide", &json!({}), None);
    assert_eq!(code, 200, "{r}");
    check_api_schema("RedecideResult", &r);
    assert_eq!(r["redecided"], 6, "{r}");
    let (_, e) = s.get("/v1/events/P0", None);
    assert_eq!(e["case"]["lead"], "committee");
    let history = e.to_string();
    assert!(history.contains("redecided"), "{e}");
    // A second redecision has nothing left to change.
    let (_, r) = s.post("/v1/policy/redecide", &json!({}), None);
    assert_eq!(r["redecided"], 0, "{r}");
    // A version that changes nothing these events read: they adopt it,
    // and none is counted as redecided.
    let commented = format!("# reviewed\n{}", order_text(&policy));
    let (code, _) = s.post(
        "/v1/policy/rollout",
        &json!({"files": {ORDER: commented}}),
        None,
    );
    assert_eq!(code, 200);
    let (_, r) = s.post("/v1/policy/redecide", &json!({}), None);
    assert_eq!(
        (&r["redecided"], &r["unchanged"]),
        (&json!(0), &json!(6)),
        "{r}"
    );
    let (_, e) = s.get("/v1/events/P1", None);
    assert!(e.to_string().contains("policy_adopted"), "{e}");
}

/// A version that goes live while a redecide is under way is the one its
/// open events end under: each event is decided under the policy live at
/// its turn, and a pass that saw the policy change is followed by another.
#[test]
fn a_version_rolled_out_during_a_redecide_is_the_one_events_end_under() {
    let (_tmp, policy, data) = setup();
    let original = order_text(&policy);
    let s = Server::start(&policy, &data, None);
    const N: usize = 3_000;
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        let events: Vec<Value> = chunk.iter().map(|i| noise(&format!("R{i}"))).collect();
        let (code, v) = s.post("/v1/events", &json!({ "events": events }), None);
        assert_eq!(code, 201, "{v}");
    }
    let rollout = |text: String| {
        let (code, v) = s.post("/v1/policy/rollout", &json!({"files": {ORDER: text}}), None);
        assert_eq!(code, 200, "{v}");
        v
    };
    rollout(original.replacen(LEAD_A, LEAD_B, 1));
    let (r, finished, rolled_out) = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            let r = s.post("/v1/policy/redecide", &json!({}), None);
            (r, Instant::now())
        });
        // Well inside the redecide of 3,000 events, each a write (about a
        // second): the version goes live long before the last pass ends.
        std::thread::sleep(Duration::from_millis(150));
        rollout(original.clone());
        let rolled_out = Instant::now();
        let (r, finished) = running.join().unwrap();
        (r, finished, rolled_out)
    });
    assert_eq!(r.0, 200, "{}", r.1);
    check_api_schema("RedecideResult", &r.1);
    let (_, live) = s.get("/v1/policy", None);
    let answered = r.1["policy"].as_str().unwrap();
    // A redecide that answered after the version went live decided its
    // events under that version, not the one it started with.
    if finished > rolled_out {
        assert_eq!(Some(answered), live["hash"].as_str(), "{}", r.1);
    }
    for i in (0..N).step_by(37).chain([N - 1]) {
        let (_, e) = s.get(&format!("/v1/events/R{i}"), None);
        assert_eq!(
            e["case"]["policy"].as_str(),
            Some(answered),
            "R{i} ends under the version the redecide answers: {}",
            r.1
        );
    }
}

#[test]
fn sighup_and_the_api_reload_and_only_officers_may() {
    let (tmp, policy, data) = setup();
    let config = tmp.path().join("whistle.toml");
    let officer = "officer-token";
    let viewer = "viewer-token";
    let sha = common::token_hash;
    std::fs::write(
        &config,
        format!(
            "watch = false\n[[tokens]]\nname = \"olga\"\nsha256 = \"{}\"\nroles = [\"officer\", \"viewer\", \"reporter\"]\n\
             [[tokens]]\nname = \"vic\"\nsha256 = \"{}\"\nroles = [\"viewer\"]\n",
            sha(officer),
            sha(viewer)
        ),
    )
    .unwrap();
    let s = Server::start(&policy, &data, Some(&config));
    let h0 = s.get("/v1/policy", Some(viewer)).1["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let text_b = order_text(&policy).replacen(LEAD_A, LEAD_B, 1);
    save(&policy.join(ORDER), &text_b);
    // Without a watch, a save alone changes nothing...
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(s.get("/v1/policy", Some(viewer)).1["hash"], h0);
    // ...a viewer may not reload, an officer may.
    let (code, _) = s.post("/v1/policy/reload", &json!({}), Some(viewer));
    assert_eq!(code, 403);
    let (code, _) = s.post("/v1/policy/reload", &json!({}), None);
    assert_eq!(code, 401);
    let (code, v) = s.post("/v1/policy/reload", &json!({}), Some(officer));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["version"]["by"], "reload by olga");
    let h1 = v["version"]["hash"].as_str().unwrap().to_string();
    // SIGHUP reloads too.
    save(
        &policy.join(ORDER),
        &order_text(&policy).replacen(LEAD_B, LEAD_A, 1),
    );
    let pid = s.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for("the SIGHUP reload", Duration::from_secs(20), || {
        s.get("/v1/policy", Some(viewer)).1["hash"] == h0.as_str()
    });
    let (_, st) = s.get("/v1/policy/status", Some(viewer));
    assert_eq!(st["last_reload"]["by"], "SIGHUP", "{st}");
    assert_eq!(st["last_reload"]["warnings"], 0, "{st}");
    assert_ne!(h1, h0);
    // A version with warnings goes live, and its warnings are there to read.
    let depts = policy.join("departments.whistle");
    let text = std::fs::read_to_string(&depts).unwrap();
    save(
        &depts,
        &format!("{text}\ndepartment spare \"备用\" {{ level street }}\n"),
    );
    let (code, v) = s.post("/v1/policy/reload", &json!({}), Some(officer));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["outcome"], "applied", "{v}");
    let (_, st) = s.get("/v1/policy/status", Some(viewer));
    let last = &st["last_reload"];
    assert_eq!(last["warnings"], 1, "{st}");
    assert_eq!(last["diagnostics"][0]["code"], "W0701", "{st}");
    assert!(
        last["rendered"]
            .as_str()
            .unwrap()
            .contains("department `spare` is never used"),
        "{st}"
    );
    // The gauge says whether the bundle on disk is live: a rollout's draft
    // refused before anything is written leaves it at 1; a broken save
    // sets it to 0; putting the file back as it was sets it to 1 again.
    let ok = || {
        let m = s.metrics();
        m.lines()
            .find_map(|l| l.strip_prefix("whistle_policy_last_reload_ok "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no gauge in {m}"))
    };
    assert_eq!(ok(), "1");
    let draft = json!({"files": {"x.whistle": "category {"}});
    let (code, v) = s.post("/v1/policy/rollout", &draft, Some(officer));
    assert_eq!(code, 422, "{v}");
    assert_eq!(ok(), "1");
    let good = std::fs::read_to_string(&depts).unwrap();
    save(&depts, &format!("{good}\ndepartment {{\n"));
    let (code, v) = s.post("/v1/policy/reload", &json!({}), Some(officer));
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["error"]["code"], "policy_errors", "{v}");
    assert_eq!(ok(), "0");
    save(&depts, &good);
    let (_, v) = s.post("/v1/policy/reload", &json!({}), Some(officer));
    assert_eq!(v["outcome"], "unchanged", "{v}");
    assert_eq!(ok(), "1");
}

#[test]
fn a_file_deleted_and_created_again_is_reloaded() {
    let (_tmp, policy, data) = setup();
    let original = order_text(&policy);
    let s = Server::start(&policy, &data, None);
    let h0 = s.live_hash();
    let path = policy.join(ORDER);
    std::fs::remove_file(&path).unwrap();
    // The file's inode is gone: a watch on the file would have ended here.
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write(&path, original.replacen(LEAD_A, LEAD_B, 1)).unwrap();
    wait_for("the re-created file", Duration::from_secs(20), || {
        s.live_hash() != h0
    });
    let (code, d) = s.post("/v1/events", &noise("D1"), None);
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["lead"], "committee");
    let (_, v) = s.get("/v1/policy", None);
    assert_eq!(v["by"], "file watch", "{v}");
}

#[test]
fn a_bundle_given_by_a_relative_path_is_watched_too() {
    // As the README runs it: `--policy policies/wuhou` from the checkout.
    let (tmp, policy, _) = setup();
    let original = order_text(&policy);
    let s = Server::start_in(
        Some(tmp.path()),
        Path::new("policy"),
        Path::new("data"),
        None,
    );
    let h0 = s.live_hash();
    // A plain overwrite in place (`cp draft/x.whistle policy/x.whistle`).
    std::fs::write(policy.join(ORDER), original.replacen(LEAD_A, LEAD_B, 1)).unwrap();
    wait_for("the saved file", Duration::from_secs(20), || {
        s.live_hash() != h0
    });
    let (_, v) = s.get("/v1/policy", None);
    assert_eq!(v["by"], "file watch", "{v}");
    let (code, d) = s.post("/v1/events", &noise("R1"), None);
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["lead"], "committee");
}

/// Deployments switch versions by a link (`ln -sfn v2 policy`) or by a
/// directory renamed over the served one: the watch must follow the path,
/// not the directory it found at start-up.
#[cfg(unix)]
#[test]
fn a_bundle_directory_relinked_or_replaced_is_followed() {
    let (tmp, policy, data) = setup();
    let original = order_text(&policy);
    let v1 = tmp.path().join("v1");
    std::fs::rename(&policy, &v1).unwrap();
    std::os::unix::fs::symlink(&v1, &policy).unwrap();
    let s = Server::start(&policy, &data, None);
    let h0 = s.live_hash();
    // The link switched to a new version, as `ln -sfn` does it.
    let v2 = tmp.path().join("v2");
    common::copy_dir(&v1, &v2);
    std::fs::write(v2.join(ORDER), original.replacen(LEAD_A, LEAD_B, 1)).unwrap();
    let link = tmp.path().join(".policy.link");
    std::os::unix::fs::symlink(&v2, &link).unwrap();
    std::fs::rename(&link, &policy).unwrap();
    wait_for("the switched link", Duration::from_secs(20), || {
        s.live_hash() != h0
    });
    let h1 = s.live_hash();
    // A save in the directory now served is seen.
    let noted = original.replacen(
        "category neighbour_noise",
        "# note\ncategory neighbour_noise",
        1,
    );
    save(&v2.join(ORDER), &noted);
    wait_for(
        "a save in the linked directory",
        Duration::from_secs(20),
        || s.live_hash() != h1,
    );
    let h2 = s.live_hash();
    // A directory renamed over the one the link names: same path, another
    // directory. It is read at once, and saves in it are seen.
    let v3 = tmp.path().join("v3");
    common::copy_dir(&v2, &v3);
    std::fs::rename(&v2, tmp.path().join("v2.old")).unwrap();
    std::fs::rename(&v3, &v2).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(s.live_hash(), h2, "the same files");
    save(&v2.join(ORDER), &original);
    wait_for(
        "a save in the directory renamed over",
        Duration::from_secs(20),
        || s.live_hash() == h0,
    );
    // Deleted and made again: the new directory often gets the freed
    // inode back, but it is another directory all the same.
    let spare = tmp.path().join("spare");
    common::copy_dir(&v2, &spare);
    std::fs::remove_dir_all(&v2).unwrap();
    common::copy_dir(&spare, &v2);
    std::thread::sleep(Duration::from_millis(2500));
    save(&v2.join(ORDER), &noted);
    wait_for(
        "a save in the directory made again",
        Duration::from_secs(20),
        || s.live_hash() == h2,
    );
}

/// The old policy never reads `repeats` for domestic disputes, so its
/// history holds none; the new one does (with windows no longer than the
/// old ones): the reload must rebuild the history from the store, or the
/// first dispute would be invisible to the second.
#[test]
fn a_reload_that_asks_repeats_of_a_new_category_rebuilds_its_history() {
    let (_tmp, policy, data) = setup();
    let dispute = |id: &str| {
        json!({"id": id, "category": "domestic_dispute", "grid": "G010101",
               "location": "block 7, unit 2", "source": "citizen",
               "reported_at": now_rfc3339()})
    };
    let original = order_text(&policy);
    let before = "  grade  yellow when attr.violence == true or reopened >= 1\n  grade  blue\n}\n\ncategory property_dispute";
    assert!(
        original.contains(before),
        "the shipped domestic_dispute changed"
    );
    let s = Server::start(&policy, &data, None);
    let h0 = s.live_hash();
    let (code, d) = s.post("/v1/events", &dispute("DD1"), None);
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["grade"], "blue", "{d}");
    save(
        &policy.join(ORDER),
        &original.replacen(
            before,
            &before.replacen("reopened >= 1", "reopened >= 1 or repeats(7d) >= 1", 1),
            1,
        ),
    );
    wait_for("the reload", Duration::from_secs(20), || {
        s.live_hash() != h0
    });
    let (code, d) = s.post("/v1/events", &dispute("DD2"), None);
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["grade"], "yellow", "DD1 counts for repeats: {d}");
}

/// A save the running server refused stays on disk; restarting must not
/// turn it into an outage: the server starts on the version that went
/// live last, says why, and takes the files once they are fixed.
#[test]
fn a_restart_over_a_refused_save_serves_the_last_good_version() {
    let (_tmp, policy, data) = setup();
    let original = order_text(&policy);
    let s = Server::start(&policy, &data, None);
    let h0 = s.live_hash();
    let broken = original.replacen(LEAD_A, "lead nobody_at_all", 1);
    assert_ne!(broken, original);
    save(&policy.join(ORDER), &broken);
    wait_for("the rejection", Duration::from_secs(20), || {
        s.get("/v1/policy/status", None).1["last_reload"]["outcome"] == "rejected"
    });
    let s = s.restart();
    assert_eq!(s.live_hash(), h0);
    let (_, st) = s.get("/v1/policy/status", None);
    assert_eq!(st["last_reload"]["by"], "startup", "{st}");
    assert_eq!(st["last_reload"]["outcome"], "rejected", "{st}");
    let (code, d) = s.post("/v1/events", &noise("R1"), None);
    assert_eq!(code, 201, "{d}");
    save(&policy.join(ORDER), &original.replacen(LEAD_A, LEAD_B, 1));
    wait_for("the fixed files", Duration::from_secs(20), || {
        s.live_hash() != h0
    });
    // With no store to fall back on, the broken bundle is the error it was.
    save(&policy.join(ORDER), &broken);
    let fresh = data.with_file_name("fresh-data");
    let out = run(
        &[
            "serve",
            "--policy",
            policy.to_str().unwrap(),
            "--data",
            fresh.to_str().unwrap(),
            "--listen",
            "127.0.0.1:1",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !fresh.exists(),
        "no store was made for a policy that cannot run"
    );
}

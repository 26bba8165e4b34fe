//! Moving events over HTTP, end to end against the real binary: reassign,
//! whistle, acknowledge, accept, resolve, feedback and reopen; refusals
//! (409 for a move the state does not allow, 422 for something invalid)
//! that change nothing; and the filters and paging of `GET /v1/events`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::server::{Server, event, now_rfc3339};
use common::{check_api_schema, shipped};
use serde_json::{Value, json};

/// POSTs an action that must be refused with `status` and `reason`, and
/// checks the event is exactly as it was: same case, version and history.
fn refused(s: &Server, id: &str, verb: &str, body: Value, status: u16, reason: &str) {
    let (_, before) = s.get(&format!("/v1/events/{id}"), None);
    let (st, err) = s.post(&format!("/v1/events/{id}/{verb}"), &body, None);
    assert_eq!(st, status, "{verb} {body}: {err}");
    assert_eq!(err["error"]["code"], "refused", "{err}");
    assert_eq!(err["error"]["details"]["reason"], reason, "{verb}: {err}");
    assert_eq!(err["error"]["details"]["state"], before["state"], "{err}");
    assert!(
        !err["error"]["message"].as_str().unwrap_or("").is_empty(),
        "a refusal says why: {err}"
    );
    let (_, after) = s.get(&format!("/v1/events/{id}"), None);
    assert_eq!(before, after, "a refused `{verb}` changed the event");
}

/// POSTs an action that must succeed; returns the answer.
fn act(s: &Server, id: &str, verb: &str, body: Value) -> Value {
    let (st, r) = s.post(&format!("/v1/events/{id}/{verb}"), &body, None);
    assert_eq!(st, 200, "{verb} {body}: {r}");
    assert_eq!(r["id"], id);
    check_api_schema("ActionResult", &r);
    let (_, stored) = s.get(&format!("/v1/events/{id}"), None);
    check_api_schema("StoredEvent", &stored);
    r
}

fn kinds(r: &Value) -> Vec<String> {
    r["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_action_over_http_and_refusals_change_nothing() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(std::path::Path::new(&shipped()), data.path(), None);
    let (st, d) = s.post("/v1/events", &event("A-1", "neighbour_noise"), None);
    assert_eq!(st, 201, "{d}");
    assert_eq!(
        (d["grade"].as_str(), d["lead"].as_str()),
        (Some("blue"), Some("grid_team"))
    );

    // Nothing a dispatched event cannot do, nothing unknown.
    refused(
        &s,
        "A-1",
        "feedback",
        json!({"rating": 5}),
        409,
        "invalid_state",
    );
    refused(&s, "A-1", "reopen", json!({}), 409, "invalid_state");
    refused(
        &s,
        "A-1",
        "ack",
        json!({"department": "police"}),
        409,
        "not_summoned",
    );
    refused(
        &s,
        "A-1",
        "whistle",
        json!({"departments": ["grid_team"]}),
        409,
        "is_lead",
    );
    refused(
        &s,
        "A-1",
        "whistle",
        json!({"departments": ["nobody"]}),
        422,
        "unknown_department",
    );
    refused(
        &s,
        "A-1",
        "reassign",
        json!({"unit": "G999999"}),
        422,
        "unknown_unit",
    );
    // A reassignment that names nothing is a body without its fields.
    let (st, e) = s.post("/v1/events/A-1/reassign", &json!({}), None);
    assert_eq!((st, &e["error"]["code"]), (422, &json!("invalid")), "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("`unit`"),
        "{e}"
    );
    // A body that is not the action's shape is a 422, not a refusal.
    let (st, e) = s.post("/v1/events/A-1/whistle", &json!({"depts": 1}), None);
    assert_eq!(st, 422, "{e}");
    assert_eq!(s.post("/v1/events/NOPE/accept", &json!({}), None).0, 404);

    // Reassign to the next grid: back to dispatched, first contact broken.
    let r = act(&s, "A-1", "reassign", json!({"unit": "G010102"}));
    assert_eq!(r["state"], "dispatched");
    assert_eq!(r["case"]["unit"], "G010102");
    assert_eq!(r["case"]["reassigned"], true);
    assert_eq!(r["case"]["first"]["unit"], "G010101");
    assert!(kinds(&r).contains(&"reassigned".to_string()), "{r}");
    assert_eq!(r["version"], 2);

    // Whistle the police; it must acknowledge, once.
    let r = act(&s, "A-1", "whistle", json!({"departments": ["police"]}));
    assert!(kinds(&r).contains(&"whistled".to_string()), "{r}");
    assert_eq!(r["case"]["summoned"][0]["department"], "police");
    assert!(
        r["case"]["assist"]
            .as_array()
            .unwrap()
            .contains(&json!("police"))
    );
    refused(
        &s,
        "A-1",
        "whistle",
        json!({"departments": ["police"]}),
        409,
        "already_summoned",
    );
    let r = act(&s, "A-1", "ack", json!({"department": "police"}));
    assert!(kinds(&r).contains(&"acked".to_string()), "{r}");
    assert!(r["case"]["summoned"][0]["acked_at"].is_string(), "{r}");
    refused(
        &s,
        "A-1",
        "ack",
        json!({"department": "police"}),
        409,
        "already_acked",
    );

    // Accept, resolve, rate: closed.
    let r = act(&s, "A-1", "accept", json!({"by": "网格员 张丽"}));
    assert_eq!(r["state"], "accepted");
    refused(&s, "A-1", "accept", json!({}), 409, "invalid_state");
    let r = act(&s, "A-1", "resolve", json!({"note": "talked to both"}));
    assert_eq!(r["state"], "resolved");
    refused(
        &s,
        "A-1",
        "feedback",
        json!({"rating": 9}),
        422,
        "bad_rating",
    );
    refused(
        &s,
        "A-1",
        "feedback",
        json!({"rating": 0}),
        422,
        "bad_rating",
    );
    // A body of the wrong shape says what the action takes, in words.
    for rating in [json!("five"), json!(900)] {
        let (st, err) = s.post("/v1/events/A-1/feedback", &json!({"rating": rating}), None);
        assert_eq!(st, 422, "{err}");
        let m = err["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("it takes `rating` (a whole number, 1 to 5)") && !m.contains("u8"),
            "{m}"
        );
    }
    // A rating given twice is refused, not taken at its last value.
    let (st, err) = s.post_raw("/v1/events/A-1/feedback", br#"{"rating":5,"rating":1}"#);
    assert_eq!(st, 422, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the key `rating` is given twice"),
        "{err}"
    );
    let r = act(&s, "A-1", "feedback", json!({"rating": 4, "comment": "快"}));
    assert_eq!(r["state"], "closed");
    assert_eq!(r["case"]["rating"], 4);

    // A closed event refuses everything but reopen.
    for (verb, body) in [
        ("accept", json!({})),
        ("resolve", json!({})),
        ("reassign", json!({"unit": "G010101"})),
        ("whistle", json!({"departments": ["fire"]})),
        ("feedback", json!({"rating": 3})),
    ] {
        refused(&s, "A-1", verb, body, 409, "invalid_state");
    }
    // Reopened: decided again with `reopened` = 1, which makes it yellow.
    let r = act(&s, "A-1", "reopen", json!({"reason": "noise again"}));
    assert_eq!(r["state"], "dispatched");
    assert_eq!(r["case"]["reopened"], 1);
    assert_eq!(r["case"]["grade"], "yellow");
    assert!(kinds(&r).contains(&"reopened".to_string()), "{r}");

    // The history holds every move in order, and nothing refused.
    let (_, e) = s.get("/v1/events/A-1", None);
    let history: Vec<&str> = e["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["body"]["kind"].as_str().unwrap())
        .collect();
    let moves: Vec<&str> = history
        .iter()
        .copied()
        .filter(|k| {
            [
                "reported",
                "dispatched",
                "reassigned",
                "whistled",
                "acked",
                "accepted",
                "resolved",
                "closed",
                "reopened",
            ]
            .contains(k)
        })
        .collect();
    assert_eq!(
        moves,
        [
            "reported",
            "dispatched",
            "reassigned",
            "whistled",
            "acked",
            "accepted",
            "resolved",
            "closed",
            "reopened"
        ],
        "{history:?}"
    );
    assert_eq!(e["version"], 8);
}

/// An action's body is JSON and says so, or is refused; a misspelt field
/// is refused by name; no body at all is fine, whatever the content type.
#[test]
fn action_bodies_are_json_with_known_fields_or_refused() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(std::path::Path::new(&shipped()), data.path(), None);
    let (st, _) = s.post("/v1/events", &event("AB-1", "fire_lane"), None);
    assert_eq!(st, 201);
    let raw = |verb: &str, content_type: Option<&str>, body: &str| -> (u16, Value) {
        let mut req = s.agent.post(&format!("{}/v1/events/AB-1/{verb}", s.base));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let mut resp = req.send(body).unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_json().unwrap_or(Value::Null))
    };
    let (st, e) = raw("accept", Some("text/plain"), r#"{"by": "wang"}"#);
    assert_eq!(st, 415, "{e}");
    assert_eq!(e["error"]["code"], "content_type", "{e}");
    // JSON in another character set, or compressed, is said to be so, not
    // misread as a syntax error; UTF-8 declared is fine.
    let (st, e) = raw(
        "accept",
        Some("application/json; charset=utf-16"),
        r#"{"by": "wang"}"#,
    );
    assert_eq!(st, 415, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`charset=utf-16` is not taken"),
        "{e}"
    );
    let mut gz = s
        .agent
        .post(&format!("{}/v1/events/AB-1/accept", s.base))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .send(&b"\x1f\x8b\x08\x00"[..])
        .unwrap();
    assert_eq!(gz.status().as_u16(), 415);
    let e: Value = gz.body_mut().read_json().unwrap();
    assert_eq!(e["error"]["code"], "content_encoding", "{e}");
    // A request without a body is not judged by a body's headers.
    let got = s
        .agent
        .get(&format!("{}/v1/events/AB-1", s.base))
        .header("content-type", "application/json; charset=latin1")
        .call()
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    let (_, before) = s.get("/v1/events/AB-1", None);
    assert_eq!(before["state"], "dispatched", "nothing was applied");
    let (st, e) = raw(
        "accept",
        Some("application/json"),
        r#"{"by": "wang", "extra": true}"#,
    );
    assert_eq!(st, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `extra`"),
        "{e}"
    );
    let (_, before) = s.get("/v1/events/AB-1", None);
    assert_eq!(before["state"], "dispatched", "nothing was applied");
    let (st, e) = raw("accept", Some("application/json; charset=UTF-8"), "");
    assert_eq!(st, 200, "{e}");
    let (st, e) = raw(
        "resolve",
        Some("application/json; charset=utf-8"),
        r#"{"notes": "done"}"#,
    );
    assert_eq!(st, 422, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("`notes`"),
        "{e}"
    );
    let (st, e) = raw("resolve", None, "");
    assert_eq!(st, 200, "{e}");
    assert_eq!(e["state"], "resolved");
}

/// An event `days` days ago (0: now) in `grid`.
fn at(id: &str, category: &str, grid: &str, days: i64) -> Value {
    let reported = if days == 0 {
        now_rfc3339()
    } else {
        let t = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .unwrap();
        jiff::Timestamp::from_second(t.as_second())
            .unwrap()
            .to_string()
    };
    json!({"id": id, "category": category, "grid": grid, "source": "patrol", "reported_at": reported})
}

fn ids(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn set(v: &[&str]) -> HashSet<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

#[test]
fn lists_filter_by_state_unit_department_and_lateness_and_page() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(std::path::Path::new(&shipped()), data.path(), None);
    // Noise in two grids; fire lanes (urban leads, fire and property
    // assist); two reported 60 days ago, so every deadline has passed.
    let posted = [
        at("N-1", "neighbour_noise", "G010101", 0),
        at("N-2", "neighbour_noise", "G010101", 0),
        at("N-3", "neighbour_noise", "G010102", 0),
        at("F-1", "fire_lane", "G010101", 0),
        at("F-2", "fire_lane", "G010203", 0),
        at("O-1", "neighbour_noise", "G010301", 60),
        at("O-2", "fire_lane", "G010301", 60),
    ];
    for e in &posted {
        let (st, d) = s.post("/v1/events", e, None);
        assert_eq!(st, 201, "{d}");
    }
    act(&s, "N-2", "accept", json!({}));
    act(&s, "F-1", "accept", json!({}));
    act(&s, "F-1", "resolve", json!({}));
    act(&s, "O-2", "accept", json!({}));
    act(&s, "O-2", "resolve", json!({}));
    act(&s, "O-2", "feedback", json!({"rating": 2}));

    let list = |q: &str| -> HashSet<String> {
        let (st, page) = s.get(&format!("/v1/events?{q}"), None);
        assert_eq!(st, 200, "{q}: {page}");
        assert!(page["next_cursor"].is_null(), "{q}: one page holds all");
        ids(&page).into_iter().collect()
    };
    assert_eq!(list("state=dispatched"), set(&["N-1", "N-3", "F-2", "O-1"]));
    assert_eq!(list("state=accepted"), set(&["N-2"]));
    assert_eq!(list("state=resolved"), set(&["F-1"]));
    assert_eq!(list("state=closed"), set(&["O-2"]));
    assert_eq!(list("state=reported"), set(&[]));
    // Units are where the decision sent each event (noise: its grid).
    let (_, n3) = s.get("/v1/events/N-3", None);
    let unit = n3["case"]["unit"].as_str().unwrap().to_string();
    assert_eq!(unit, "G010102");
    assert_eq!(list(&format!("unit={unit}")), set(&["N-3"]));
    assert_eq!(list("unit=G010101&state=dispatched"), set(&["N-1"]));
    // Departments: the lead or an assisting one.
    assert_eq!(
        list("department=grid_team"),
        set(&["N-1", "N-2", "N-3", "O-1"])
    );
    assert_eq!(list("department=fire"), set(&["F-1", "F-2", "O-2"]));
    assert_eq!(list("department=fire&state=dispatched"), set(&["F-2"]));
    // A department the policy has, with nothing to list, is an empty page;
    // one it does not know, that no event names, a misspelling said so.
    assert_eq!(list("department=tax"), set(&[]));
    assert_eq!(list("department=fire&state=reported"), set(&[]));
    let (st, e) = s.get("/v1/events?department=firee", None);
    assert_eq!(st, 400, "{e}");
    assert_eq!(
        e["error"]["message"],
        "unknown department `firee`: the policy in force has none by that name, and no stored event names it; did you mean `fire`?",
        "{e}"
    );
    let (st, e) = s.get("/v1/events?department=nobody", None);
    assert_eq!(st, 400, "{e}");
    // Late: open and past a deadline. O-2 is as old but closed.
    assert_eq!(list("overdue=true"), set(&["O-1"]));
    assert_eq!(
        list("overdue=false").len(),
        posted.len(),
        "overdue=false does not filter"
    );

    // Paging: newest first, no event twice, none left out.
    let (_, all) = s.get("/v1/events", None);
    let everything = ids(&all);
    assert_eq!(everything.len(), posted.len());
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/events?limit=3&cursor={c}"),
            None => "/v1/events?limit=3".to_string(),
        };
        let (st, page) = s.get(&q, None);
        assert_eq!(st, 200, "{page}");
        let got = ids(&page);
        assert!(got.len() <= 3);
        paged.extend(got);
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, everything, "pages in order make the whole list");
    // Paging under a filter.
    let (_, first) = s.get("/v1/events?department=grid_team&limit=2", None);
    let c = first["next_cursor"].as_str().unwrap();
    let (_, second) = s.get(
        &format!("/v1/events?department=grid_team&limit=2&cursor={c}"),
        None,
    );
    assert!(second["next_cursor"].is_null(), "{second}");
    let both: HashSet<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    assert_eq!(both, set(&["N-1", "N-2", "N-3", "O-1"]));
    // Bad filters are the client's mistake.
    assert_eq!(s.get("/v1/events?limit=1001", None).0, 400);
    assert_eq!(s.get("/v1/events?overdue=maybe", None).0, 400);
    assert_eq!(s.get("/v1/events?colour=red", None).0, 400);
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use jiff::Timestamp;
use serde_json::json;
use whistle_engine::event::parse_event;
use whistle_engine::lifecycle::{Action, Case, State, Transition, apply};
use whistle_engine::windows::NoHistory;
use whistle_engine::{Context, Policy, compile_texts, decide};

use super::SqliteStore;
use crate::store::journal::{GENESIS, canonical_json};
use crate::store::{Inserted, ListQuery, NewEvent, PolicyVersion, Store, StoreError, Updated};

const POLICY: &str = r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street < district
department urban "城管" { level street }
department fire "消防" { level street }
department grid_team "网格" { level grid }
department command "综治中心" { level district }
grades blue < yellow < red
grade blue   { level grid      respond 10m resolve 1h }
grade yellow { level community respond 20m resolve 2h }
grade red    { level street    respond 10m resolve 40m }
fallback { lead command grade blue }
category lamp {
  lead urban
  assist fire when grade >= yellow
  grade red when attr.trapped > 0
  grade blue
}
category litter { lead grid_team grade blue }
escalate {
  at 50% respond -> remind
  at 100% respond -> raise 1, notify command
}
"#;

const AREAS: &str = "districts:
  - id: D01
    streets:
      - id: S01
        communities:
          - id: C0101
            grids: [G1, G2]
          - id: C0102
            grids: [G3]
";

pub(crate) fn policy() -> Policy {
    compile_texts(&[("base.whistle", POLICY), ("areas.yaml", AREAS)])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// 2025-06-03T10:00:00+08:00 plus `s` seconds.
pub(crate) fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_748_916_000 + s).unwrap()
}

/// An event reported at `t(at)` and received a second later.
pub(crate) fn new_event(
    p: &Policy,
    id: &str,
    category: &str,
    grid: &str,
    attr: &str,
    at: i64,
) -> NewEvent {
    let ev = parse_event(&format!(
        r#"{{"id":"{id}","category":"{category}","grid":"{grid}","source":"patrol",
            "reported_at":"{}","attr":{attr}}}"#,
        t(at)
    ))
    .unwrap();
    let d = decide(p, &ev, &Context::default());
    let received_at = t(at + 1);
    let decision = json!({
        "event_id": id,
        "grade": "?",
        "unit": d.unit.as_deref(),
        "respond_by": d.respond_by,
        "resolve_by": d.resolve_by,
    });
    let body_hash = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(canonical_json(
            &serde_json::to_value(&ev).unwrap()
        )))
    );
    let (case, transitions) = Case::open(p, ev.clone(), &d, received_at, &NoHistory);
    NewEvent::new(
        ev,
        body_hash,
        decision.to_string(),
        std::sync::Arc::new(case),
        transitions,
        received_at,
    )
    .unwrap()
}

pub(crate) async fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(dir, Vec::new()).await.unwrap()
}

pub(crate) async fn insert_one(s: &SqliteStore, e: NewEvent) {
    let r = s.insert_events(vec![e]).await.unwrap();
    assert!(matches!(r[..], [Inserted::Created]), "{r:?}");
}

/// Applies an action to a stored case and writes it back.
async fn act(s: &SqliteStore, p: &Policy, id: &str, a: Action, at: i64) -> Vec<Transition> {
    let stored = s.get_event(id).await.unwrap().unwrap();
    let mut case = stored.case;
    let ts = apply(p, &mut case, a, t(at), &NoHistory).unwrap();
    assert_eq!(
        s.update_case(id, stored.version, &case, &ts).await.unwrap(),
        Updated::Ok(stored.version + 1)
    );
    ts
}

pub(crate) fn accept() -> Action {
    Action::Accept {
        by: Some("li".into()),
    }
}

fn resolve() -> Action {
    Action::Resolve { note: None }
}

#[tokio::test]
async fn an_event_comes_back_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let e = new_event(&p, "E1", "lamp", "G1", r#"{"trapped":1}"#, 0);
    let expected = e.clone();
    insert_one(&s, e).await;
    assert!(dir.path().join("whistle.db").exists());

    let got = s.get_event("E1").await.unwrap().unwrap();
    assert_eq!(got.id, "E1");
    assert_eq!(got.event, expected.event);
    assert_eq!(got.case, *expected.case);
    assert_eq!(
        got.decision,
        serde_json::from_str::<serde_json::Value>(&expected.decision).unwrap()
    );
    assert_eq!(got.body_hash, expected.body_hash);
    assert_eq!(got.received_at, expected.received_at);
    assert_eq!(got.version, 1);
    assert!(s.get_event("E2").await.unwrap().is_none());

    let journal = s.journal_for("E1").await.unwrap();
    assert_eq!(journal.len(), expected.transitions.len());
    assert_eq!(journal[0].seq, 1);
    assert_eq!(journal[0].prev_hash, GENESIS);
    assert_eq!(journal[1].prev_hash, journal[0].hash);
    assert_eq!(journal[0].kind, "transition");
    assert_eq!(journal[0].body["kind"], "reported");
    assert_eq!(journal[0].body["event_id"], "E1");
    assert_eq!(journal[1].body["kind"], "dispatched");
    let mut back = journal[1].body.clone();
    back.as_object_mut().unwrap().remove("event_id");
    let t: Transition = serde_json::from_value(back).unwrap();
    assert_eq!(t, expected.transitions[1]);
    s.close().await.unwrap();
}

#[tokio::test]
async fn batches_are_committed_in_turn_and_flushed_together() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let flushed = s.sync.flushes();
    let (a, first) = s
        .insert_events_committed(vec![new_event(&p, "P1", "lamp", "G1", "{}", 0)])
        .await
        .unwrap();
    // The writer is free before the first batch is durable: the second
    // is committed behind it, and sees it (a retry is a duplicate).
    let (b, second) = s
        .insert_events_committed(vec![
            new_event(&p, "P2", "lamp", "G2", "{}", 1),
            new_event(&p, "P1", "lamp", "G1", "{}", 0),
        ])
        .await
        .unwrap();
    assert!(matches!(a[..], [Inserted::Created]), "{a:?}");
    assert!(
        matches!(b[..], [Inserted::Created, Inserted::Duplicate(_)]),
        "{b:?}"
    );
    // One flush, started after both commits, makes both durable.
    second.await.unwrap();
    first.await.unwrap();
    assert_eq!(s.sync.flushes() - flushed, 1);
    // Every other write waits for its own flush.
    act(&s, &p, "P1", accept(), 60).await;
    assert_eq!(s.sync.flushes() - flushed, 2);
    s.close().await.unwrap();
}

#[tokio::test]
async fn a_failed_flush_refuses_every_later_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    insert_one(&s, new_event(&p, "F1", "lamp", "G1", "{}", 0)).await;
    assert_eq!(s.write_failure(), None);
    // With both files gone there is nothing to flush: the commit cannot
    // be made durable.
    for f in ["whistle.db-wal", "whistle.db"] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    let e = s
        .insert_events(vec![new_event(&p, "F2", "lamp", "G1", "{}", 1)])
        .await
        .unwrap_err();
    assert!(e.0.contains("restarted"), "{e}");
    assert!(s.write_failure().is_some_and(|w| w.contains("flushing")));
    let commits = s.sync.tickets();
    // Later writes are refused before they touch the database.
    let e = s
        .insert_events(vec![new_event(&p, "F3", "lamp", "G1", "{}", 2)])
        .await
        .unwrap_err();
    assert!(e.0.contains("restarted"), "{e}");
    let case = new_event(&p, "F1", "lamp", "G1", "{}", 0).case;
    let refused = s.update_case("F1", 1, &case, &[]).await.unwrap_err();
    assert!(refused.0.contains("restarted"), "{refused}");
    // Refused before the writer is asked: nothing more was committed.
    assert_eq!(s.sync.tickets(), commits);
}

/// Limits the database's size, as a full disk would.
async fn max_pages(s: &SqliteStore, pages: i64) {
    let mut w = s.writer.lock().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {pages}"
    )))
    .execute(&mut w.conn)
    .await
    .unwrap();
}

/// A full disk fails the write it happens to, and only that one: once
/// there is room again the store takes writes, its chain unbroken. (A
/// full disk is a database at its `max_page_count` here.)
#[tokio::test]
async fn writes_go_on_once_a_full_disk_has_room_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    insert_one(&s, new_event(&p, "D0", "lamp", "G1", "{}", 0)).await;
    let pages: i64 = {
        let mut w = s.writer.lock().await;
        sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut w.conn)
            .await
            .unwrap()
    };
    max_pages(&s, pages).await;
    // A batch far larger than the room left.
    let big: Vec<NewEvent> = (1..400)
        .map(|i| {
            new_event(
                &p,
                &format!("D{i}"),
                "lamp",
                "G1",
                &format!(r#"{{"note":"{}"}}"#, "x".repeat(500)),
                i,
            )
        })
        .collect();
    let e = s.insert_events(big).await.unwrap_err();
    assert!(e.0.contains("full"), "{e}");
    assert_eq!(s.get_event("D1").await.unwrap().map(|x| x.id), None);
    max_pages(&s, 1_073_741_823).await;
    insert_one(&s, new_event(&p, "D400", "lamp", "G1", "{}", 400)).await;
    act(&s, &p, "D0", accept(), 401).await;
    s.verify().await.unwrap();
}

/// A commit that fails on a full disk is rolled back by SQLite itself:
/// the connection's own ROLLBACK then finds no transaction, and sqlx goes
/// on counting one, so every later `BEGIN` would be refused ("begin_with
/// at non-zero transaction depth") until a restart. Made here by rolling
/// back under sqlx's feet; the writer opens its connection again.
#[tokio::test]
async fn a_writer_left_inside_a_failed_transaction_writes_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    insert_one(&s, new_event(&p, "T0", "lamp", "G1", "{}", 0)).await;
    {
        use sqlx::Connection as _;
        let mut w = s.writer.lock().await;
        let mut tx = w.conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::raw_sql("ROLLBACK").execute(&mut *tx).await.unwrap();
        drop(tx);
        // The queued ROLLBACK runs, and fails, before this.
        let _ = sqlx::raw_sql("SELECT 1").execute(&mut w.conn).await;
        assert!(w.conn.is_in_transaction(), "sqlx still counts one");
    }
    insert_one(&s, new_event(&p, "T1", "lamp", "G1", "{}", 1)).await;
    act(&s, &p, "T0", accept(), 2).await;
    assert_eq!(s.verify().await.unwrap().entries, 5);
}

#[tokio::test]
async fn a_retry_is_a_duplicate_and_another_body_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    insert_one(&s, new_event(&p, "E1", "lamp", "G1", "{}", 0)).await;
    let mut other = new_event(&p, "E1", "litter", "G1", "{}", 0);
    other.body_hash = "sha256:other".into();
    let r = s
        .insert_events(vec![
            new_event(&p, "E1", "lamp", "G1", "{}", 0),
            other,
            new_event(&p, "E2", "lamp", "G2", "{}", 5),
            new_event(&p, "E2", "lamp", "G2", "{}", 5),
        ])
        .await
        .unwrap();
    match &r[..] {
        [
            Inserted::Duplicate(d),
            Inserted::Conflict,
            Inserted::Created,
            Inserted::Duplicate(d2),
        ] => {
            assert_eq!(d.id, "E1");
            assert_eq!(d.case.lead.as_str(), "urban");
            assert_eq!(d2.id, "E2");
        }
        other => panic!("{other:?}"),
    }
    // Only the created events were journaled: 2 transitions each.
    let v = s.verify().await.unwrap();
    assert_eq!((v.entries, v.first_broken), (4, None));
    assert_eq!(s.journal_for("E1").await.unwrap().len(), 2);
    assert_eq!(
        s.get_event("E1").await.unwrap().unwrap().case.lead.as_str(),
        "urban"
    );
    assert!(s.insert_events(Vec::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_update_needs_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    insert_one(&s, new_event(&p, "E1", "lamp", "G1", "{}", 0)).await;
    let stored = s.get_event("E1").await.unwrap().unwrap();
    let mut case = stored.case.clone();
    let ts = apply(&p, &mut case, accept(), t(60), &NoHistory).unwrap();
    assert_eq!(
        s.update_case("E1", 1, &case, &ts).await.unwrap(),
        Updated::Ok(2)
    );
    // A second writer that read version 1 is too late.
    let mut late = stored.case.clone();
    let ts2 = apply(&p, &mut late, accept(), t(70), &NoHistory).unwrap();
    assert_eq!(
        s.update_case("E1", 1, &late, &ts2).await.unwrap(),
        Updated::Stale
    );
    assert_eq!(
        s.update_case("E9", 1, &late, &ts2).await.unwrap(),
        Updated::Missing
    );

    let got = s.get_event("E1").await.unwrap().unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.case, case);
    assert_eq!(got.case.state, State::Accepted);
    let kinds: Vec<_> = s
        .journal_for("E1")
        .await
        .unwrap()
        .iter()
        .map(|j| j.body["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["reported", "dispatched", "accepted"]);
    // The stale and missing updates wrote nothing, and the chain goes on.
    let v = s.verify().await.unwrap();
    assert_eq!((v.entries, v.first_broken), (3, None));
    // An update without transitions only bumps the version.
    assert_eq!(
        s.update_case("E1", 2, &case, &[]).await.unwrap(),
        Updated::Ok(3)
    );
    act(&s, &p, "E1", resolve(), 80).await;
    assert_eq!(s.verify().await.unwrap().entries, 4);
}

#[tokio::test]
async fn many_cases_update_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    for id in ["E1", "E2", "E3"] {
        insert_one(&s, new_event(&p, id, "lamp", "G1", "{}", 0)).await;
    }
    let mut found: Vec<String> = s
        .get_events(&["E3", "E9", "E1", "E2"])
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    found.sort();
    assert_eq!(found, ["E1", "E2", "E3"]);
    // E1's step fires and `fire` is summoned; E2's step fires; E3 was read
    // at a version since moved on; E9 does not exist.
    let tick = |case: &mut Case, a: Action| apply(&p, case, a, t(400), &NoHistory).unwrap();
    let mut c1 = s.get_event("E1").await.unwrap().unwrap().case;
    let mut t1 = tick(&mut c1, Action::Tick);
    t1.extend(tick(
        &mut c1,
        Action::Whistle {
            departments: vec!["fire".into()],
        },
    ));
    let mut c2 = s.get_event("E2").await.unwrap().unwrap().case;
    let t2 = tick(&mut c2, Action::Tick);
    let mut c3 = s.get_event("E3").await.unwrap().unwrap().case;
    let t3 = tick(&mut c3, Action::Tick);
    assert!(t2.iter().any(|t| t.kind() == "step_fired"), "{t2:?}");
    let got = s
        .update_cases(&[
            change("E1", 1, &c1, &t1),
            change("E2", 1, &c2, &t2),
            change("E3", 7, &c3, &t3),
            change("E9", 1, &c3, &t3),
        ])
        .await
        .unwrap();
    assert_eq!(
        got,
        [
            Updated::Ok(2),
            Updated::Ok(2),
            Updated::Stale,
            Updated::Missing
        ]
    );
    let e1 = s.get_event("E1").await.unwrap().unwrap();
    assert_eq!((e1.version, &e1.case), (2, &c1));
    assert_eq!(s.get_event("E3").await.unwrap().unwrap().version, 1);
    let kinds = |id: &'static str| {
        let s = &s;
        async move {
            s.journal_for(id)
                .await
                .unwrap()
                .iter()
                .map(|j| j.body["kind"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(kinds("E1").await.len(), 2 + t1.len());
    assert_eq!(kinds("E2").await.len(), 2 + t2.len());
    assert_eq!(kinds("E3").await, ["reported", "dispatched"]);
    // The summoned department's rows were written with the case.
    let q = ListQuery {
        department: Some("fire".into()),
        limit: 10,
        ..ListQuery::default()
    };
    let ids: Vec<String> = s
        .list_events(&q)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["E1"]);
    let v = s.verify().await.unwrap();
    assert_eq!(v.first_broken, None);
    assert_eq!(v.entries, 6 + i64::try_from(t1.len() + t2.len()).unwrap());
    // Nothing matched: nothing is written, and the chain goes on after.
    assert_eq!(
        s.update_cases(&[change("E3", 9, &c3, &t3)]).await.unwrap(),
        [Updated::Stale]
    );
    act(&s, &p, "E3", accept(), 500).await;
    assert_eq!(s.verify().await.unwrap().first_broken, None);
}

#[tokio::test]
async fn lists_filter_and_page_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    // 25 events, one every 10 s: lamps in G1 (urban), litter in G3
    // (grid_team), and every fifth a red lamp (fire assists).
    let mut batch = Vec::new();
    for i in 0..25 {
        let id = format!("E{i:02}");
        batch.push(match i % 5 {
            0 => new_event(&p, &id, "lamp", "G2", r#"{"trapped":1}"#, i * 10),
            1 | 2 => new_event(&p, &id, "lamp", "G1", "{}", i * 10),
            _ => new_event(&p, &id, "litter", "G3", "{}", i * 10),
        });
    }
    let r = s.insert_events(batch).await.unwrap();
    assert!(r.iter().all(|r| matches!(r, Inserted::Created)));
    for id in ["E01", "E06", "E11"] {
        act(&s, &p, id, accept(), 300).await;
    }

    // Every event, in pages of 10.
    let mut ids = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s
            .list_events(&ListQuery {
                limit: 10,
                cursor,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        pages += 1;
        ids.extend(page.events.iter().map(|e| e.id.clone()));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).rev().map(|i| format!("E{i:02}")).collect();
    assert_eq!(ids, expected);

    let list = |q: ListQuery| {
        let s = &s;
        async move {
            s.list_events(&ListQuery { limit: 100, ..q })
                .await
                .unwrap()
                .events
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(ListQuery {
            state: Some("accepted".into()),
            ..ListQuery::default()
        })
        .await,
        ["E11", "E06", "E01"]
    );
    let fire = list(ListQuery {
        department: Some("fire".into()),
        ..ListQuery::default()
    })
    .await;
    assert_eq!(fire, ["E20", "E15", "E10", "E05", "E00"]);
    let urban = list(ListQuery {
        department: Some("urban".into()),
        ..ListQuery::default()
    })
    .await;
    assert_eq!(urban.len(), 15);
    let g3 = s
        .get_event("E03")
        .await
        .unwrap()
        .unwrap()
        .case
        .unit
        .unwrap();
    let by_unit = list(ListQuery {
        unit: Some(g3.to_string()),
        ..ListQuery::default()
    })
    .await;
    assert_eq!(by_unit.len(), 10);
    assert!(
        by_unit
            .iter()
            .all(|id| id[1..].parse::<u32>().unwrap() % 5 >= 3)
    );
    // Combined filters page too.
    let page = s
        .list_events(&ListQuery {
            department: Some("urban".into()),
            state: Some("dispatched".into()),
            limit: 4,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 4);
    let rest = s
        .list_events(&ListQuery {
            department: Some("urban".into()),
            state: Some("dispatched".into()),
            limit: 100,
            cursor: page.next_cursor,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.events.len(), 15 - 3 - 4);
    assert!(rest.next_cursor.is_none());

    // Overdue: nothing before the first deadline; the three accepted ones
    // are overdue only once their resolve deadline passed.
    assert!(
        list(ListQuery {
            overdue_at: Some(t(0)),
            ..ListQuery::default()
        })
        .await
        .is_empty()
    );
    let resolve_by = s.get_event("E01").await.unwrap().unwrap().case.resolve_by;
    let respond_by = s.get_event("E01").await.unwrap().unwrap().case.respond_by;
    let mid = list(ListQuery {
        overdue_at: Some(
            respond_by
                .checked_add(jiff::SignedDuration::from_secs(1))
                .unwrap(),
        ),
        ..ListQuery::default()
    })
    .await;
    assert!(mid.contains(&"E00".to_string()) && !mid.contains(&"E01".to_string()));
    let late = list(ListQuery {
        overdue_at: Some(t(1_000_000)),
        ..ListQuery::default()
    })
    .await;
    assert_eq!(late.len(), 25);
    assert!(resolve_by < t(1_000_000));

    // Limits are clamped; a forged cursor is refused.
    let one = s.list_events(&ListQuery::default()).await.unwrap();
    assert_eq!(one.events.len(), 1);
    let err = s
        .list_events(&ListQuery {
            limit: 10,
            cursor: Some("nonsense".into()),
            ..ListQuery::default()
        })
        .await
        .unwrap_err();
    assert!(err.0.contains("cursor"), "{err}");
}

/// Runs raw SQL on the writer connection (to play the attacker).
async fn tamper(s: &SqliteStore, sql: &'static str) {
    let mut w = s.writer.lock().await;
    sqlx::query(sql).execute(&mut w.conn).await.unwrap();
}

#[tokio::test]
async fn the_journal_chain_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    insert_one(&s, new_event(&p, "E1", "lamp", "G1", "{}", 0)).await;
    insert_one(&s, new_event(&p, "E2", "lamp", "G1", "{}", 0)).await;
    let rollout = s
        .append_journal(
            "policy_rollout",
            json!({"hash": "sha256:abc", "by": "officer"}),
        )
        .await
        .unwrap();
    assert_eq!(rollout.seq, 5);
    assert_eq!(rollout.event_id, None);
    insert_one(&s, new_event(&p, "E3", "lamp", "G1", "{}", 0)).await;
    let ok = s.verify().await.unwrap();
    assert_eq!((ok.entries, ok.first_broken, ok.reason), (7, None, None));

    // A changed body no longer matches its hash.
    tamper(
        &s,
        "UPDATE journal SET body = replace(body, 'dispatched', 'closed') WHERE seq = 4",
    )
    .await;
    let v = s.verify().await.unwrap();
    assert_eq!(v.entries, 7);
    assert_eq!(v.first_broken, Some(4));
    assert_eq!(v.reason.as_deref(), Some("hash does not match its content"));

    // Rewriting its hash too breaks the link of the next entry.
    let mut w = s.writer.lock().await;
    let (event_id, kind, body, prev): (Option<String>, String, String, String) =
        sqlx::query_as("SELECT event_id, kind, body, prev_hash FROM journal WHERE seq = 4")
            .fetch_one(&mut w.conn)
            .await
            .unwrap();
    let forged = crate::store::journal::chain_hash(&prev, 4, event_id.as_deref(), &kind, &body);
    sqlx::query("UPDATE journal SET hash = ? WHERE seq = 4")
        .bind(forged)
        .execute(&mut w.conn)
        .await
        .unwrap();
    drop(w);
    let v = s.verify().await.unwrap();
    assert_eq!(v.first_broken, Some(5));
    assert_eq!(v.reason.as_deref(), Some("does not link to entry 4"));

    // A deleted entry is a gap.
    tamper(&s, "DELETE FROM journal WHERE seq <= 4").await;
    let v = s.verify().await.unwrap();
    assert_eq!(v.entries, 3);
    assert_eq!(v.first_broken, Some(5));
    assert_eq!(v.reason.as_deref(), Some("entries 1 to 4 are missing"));
}

/// The outbox items of a store with one webhook, after three events.
async fn anchored_store() -> (
    tempfile::TempDir,
    SqliteStore,
    Vec<crate::store::OutboxItem>,
) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path(), vec!["city".into()])
        .await
        .unwrap();
    let p = policy();
    for id in ["E1", "E2", "E3"] {
        insert_one(&s, new_event(&p, id, "lamp", "G1", "{}", 0)).await;
    }
    let items = s
        .outbox_claim(Timestamp::now(), 30, 100, None)
        .await
        .unwrap();
    (dir, s, items)
}

#[tokio::test]
async fn an_outbox_item_names_its_journal_entry() {
    let (_dir, s, items) = anchored_store().await;
    assert_eq!(items.len(), 6);
    for item in &items {
        let id = item.payload["event_id"].as_str().unwrap();
        let entry = s
            .journal_for(id)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.body == item.payload)
            .unwrap();
        let anchor = item.journal.as_ref().unwrap();
        assert_eq!((anchor.seq, &anchor.hash), (entry.seq, &entry.hash));
    }
    // The last one is the chain's end as `verify` finds it.
    let v = s.verify().await.unwrap();
    assert_eq!(v.last, items.last().unwrap().journal);
    // An entry deleted by hand does not hold up its item, nor the others
    // claimed with it: it goes without its anchor.
    for item in &items {
        s.outbox_retry(item.id, Timestamp::now(), "HTTP 500")
            .await
            .unwrap();
    }
    tamper(&s, "DELETE FROM journal WHERE seq = 2").await;
    let again = s
        .outbox_claim(Timestamp::now(), 30, 100, None)
        .await
        .unwrap();
    let anchors: Vec<Option<i64>> = again
        .iter()
        .map(|i| i.journal.as_ref().map(|j| j.seq))
        .collect();
    assert_eq!(anchors, [Some(1), None, Some(3), Some(4), Some(5), Some(6)]);
}

#[tokio::test]
async fn an_anchor_finds_entries_cut_from_the_end_and_a_rewritten_chain() {
    let (dir, s, items) = anchored_store().await;
    let last = items.last().unwrap().journal.clone().unwrap();
    let earlier = items[3].journal.clone().unwrap();
    s.close().await.unwrap();
    let check = |anchor: Option<crate::store::JournalAnchor>| {
        let path = dir.path().to_path_buf();
        async move {
            SqliteStore::verify_read_only(&path, anchor.as_ref())
                .await
                .unwrap()
        }
    };
    for a in [&last, &earlier] {
        let v = check(Some(a.clone())).await;
        assert_eq!((v.first_broken, v.entries), (None, 6), "{v:?}");
    }
    // The last two entries cut: the chain alone still holds.
    let s = open(dir.path()).await;
    tamper(&s, "DELETE FROM journal WHERE seq > 4").await;
    s.close().await.unwrap();
    let alone = check(None).await;
    assert_eq!(alone.first_broken, None);
    assert_eq!(alone.last.as_ref().map(|l| l.seq), Some(4));
    let v = check(Some(last.clone())).await;
    assert_eq!(v.first_broken, Some(5), "{v:?}");
    assert_eq!(v.last, None);
    let reason = v.reason.unwrap();
    assert!(
        reason.contains("ends at entry 4, and the anchor names entry 6"),
        "{reason}"
    );
    assert_eq!(check(Some(earlier.clone())).await.first_broken, None);
    // Entry 3 rewritten and the chain made again from it: only an anchor
    // at or after it tells.
    let s = open(dir.path()).await;
    {
        let mut w = s.writer.lock().await;
        let rows: Vec<(i64, Option<String>, String, String)> = sqlx::query_as(
            "SELECT seq, event_id, kind, body FROM journal WHERE seq >= 3 ORDER BY seq",
        )
        .fetch_all(&mut w.conn)
        .await
        .unwrap();
        let (prev,): (String,) = sqlx::query_as("SELECT hash FROM journal WHERE seq = 2")
            .fetch_one(&mut w.conn)
            .await
            .unwrap();
        let mut prev = prev;
        for (seq, event_id, kind, body) in rows {
            let body = if seq == 3 {
                body.replace("E2", "E9")
            } else {
                body
            };
            let hash =
                crate::store::journal::chain_hash(&prev, seq, event_id.as_deref(), &kind, &body);
            sqlx::query("UPDATE journal SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?")
                .bind(&body)
                .bind(&prev)
                .bind(&hash)
                .bind(seq)
                .execute(&mut w.conn)
                .await
                .unwrap();
            prev = hash;
        }
    }
    s.close().await.unwrap();
    assert_eq!(check(None).await.first_broken, None);
    let v = check(Some(earlier)).await;
    assert_eq!(v.first_broken, Some(4), "{v:?}");
    assert!(v.reason.unwrap().contains("rewritten at or before it"));
    let before = items[1].journal.clone().unwrap();
    assert_eq!(before.seq, 2);
    assert_eq!(check(Some(before)).await.first_broken, None);
}

#[tokio::test]
async fn verify_names_a_damaged_page_of_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy();
    let s = open(dir.path()).await;
    for i in 0..300 {
        insert_one(&s, new_event(&p, &format!("E{i}"), "lamp", "G1", "{}", i)).await;
    }
    s.close().await.unwrap();
    // The closed store's checkpoints stop within a tick; then everything
    // is copied into the file and the log emptied.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect(&format!(
            "sqlite://{}",
            dir.path().join(super::FILE_NAME).display()
        ))
        .await
        .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    let v = SqliteStore::verify_read_only(dir.path(), None)
        .await
        .unwrap();
    assert_eq!((v.first_broken, &v.damaged), (None, &None), "{v:?}");
    // A b-tree page's type byte overwritten, as a bad sector or a torn
    // copy could: the chain may still hold, the file does not.
    let file = dir.path().join(super::FILE_NAME);
    let mut bytes = std::fs::read(&file).unwrap();
    let page = 4096;
    let last = bytes.len() / page - 1;
    bytes[last * page] = 0xff;
    std::fs::write(&file, &bytes).unwrap();
    match SqliteStore::verify_read_only(dir.path(), None).await {
        Ok(v) => assert!(v.damaged.is_some(), "{v:?}"),
        Err(e) => assert!(e.0.contains("is damaged"), "{e}"),
    }
}

#[tokio::test]
async fn outbox_items_are_leased_retried_and_done() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path(), vec!["a".into(), "b".into()])
        .await
        .unwrap();
    let p = policy();
    insert_one(&s, new_event(&p, "E1", "lamp", "G1", "{}", 0)).await;
    let now = Timestamp::now();
    let at = |secs: i64| {
        now.checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap()
    };

    // One webhook's items only: the other's are left for its own claimer.
    // (A lease of 0 s: they are due again at once.)
    let only_b = s.outbox_claim(now, 0, 10, Some("b")).await.unwrap();
    assert_eq!(only_b.len(), 2);
    assert!(only_b.iter().all(|i| i.target == "b"));
    // Two transitions for two webhooks.
    let first = s.outbox_claim(now, 30, 3, None).await.unwrap();
    assert_eq!(first.len(), 3);
    assert!(
        first
            .iter()
            .all(|i| i.attempts == 0 && i.payload["event_id"] == "E1")
    );
    let targets: Vec<_> = first.iter().map(|i| i.target.as_str()).collect();
    assert_eq!(targets, ["a", "b", "a"]);
    assert_eq!(first[0].payload["kind"], "reported");
    assert_eq!(first[2].payload["kind"], "dispatched");
    let second = s.outbox_claim(now, 30, 10, None).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].target, "b");
    // All leased.
    assert!(s.outbox_claim(now, 30, 10, None).await.unwrap().is_empty());

    s.outbox_done(first[0].id).await.unwrap();
    s.outbox_retry(first[1].id, at(10), "HTTP 500")
        .await
        .unwrap();
    assert!(
        s.outbox_claim(at(5), 30, 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s.outbox_claim(at(11), 30, 10, None).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (first[1].id, 1));
    // The other two leases ran out: they are due again.
    let expired = s.outbox_claim(at(31), 30, 10, None).await.unwrap();
    let ids: Vec<_> = expired.iter().map(|i| i.id).collect();
    assert_eq!(ids, [first[2].id, second[0].id]);
    for i in expired.iter().chain(&retried) {
        s.outbox_done(i.id).await.unwrap();
    }
    assert!(
        s.outbox_claim(at(1000), 30, 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.outbox_claim(at(1000), 30, 0, None)
            .await
            .unwrap()
            .is_empty()
    );
    let e: StoreError = s.outbox_done(999).await.unwrap_err();
    assert!(e.0.contains("999"));
    assert!(s.outbox_retry(999, now, "x").await.is_err());
}

#[tokio::test]
async fn a_reopened_store_keeps_everything_and_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy();
    let version = PolicyVersion {
        hash: "sha256:one".into(),
        activated_at: t(0),
        by: "startup".into(),
        files: vec![("base.whistle".into(), POLICY.into())],
        summary: "t 1".into(),
    };
    let expected = new_event(&p, "E1", "lamp", "G1", "{}", 0);
    {
        let s = open(dir.path()).await;
        insert_one(&s, expected.clone()).await;
        s.record_policy(&version).await.unwrap();
        s.append_journal("policy_rollout", json!({"hash": "sha256:one"}))
            .await
            .unwrap();
        s.close().await.unwrap();
    }
    {
        // Dropped without closing this time.
        let s = open(dir.path()).await;
        let got = s.get_event("E1").await.unwrap().unwrap();
        assert_eq!(got.case, *expected.case);
        assert_eq!(
            s.policy_versions().await.unwrap(),
            std::slice::from_ref(&version)
        );
        insert_one(&s, new_event(&p, "E2", "lamp", "G1", "{}", 0)).await;
        let j = s.journal_for("E2").await.unwrap();
        assert_eq!(j[0].seq, 4);
    }
    let s = open(dir.path()).await;
    let v = s.verify().await.unwrap();
    assert_eq!((v.entries, v.first_broken), (5, None));
    let later = PolicyVersion {
        hash: "sha256:two".into(),
        activated_at: t(100),
        by: "file watch".into(),
        files: Vec::new(),
        summary: "t 2".into(),
    };
    s.record_policy(&later).await.unwrap();
    assert_eq!(
        s.policy_versions().await.unwrap(),
        [later.clone(), version.clone()]
    );
    assert_eq!(s.policy_version("sha256:two").await.unwrap(), Some(later));
    assert_eq!(s.policy_version("sha256:none").await.unwrap(), None);
    // Rolled back to: the newest recording of that hash is the one found.
    let again = PolicyVersion {
        activated_at: t(200),
        by: "rollback".into(),
        ..version.clone()
    };
    s.record_policy(&again).await.unwrap();
    assert_eq!(s.policy_version("sha256:one").await.unwrap(), Some(again));
    assert_eq!(s.open_count().await.unwrap(), 2);
}

#[tokio::test]
async fn an_emptied_database_file_is_refused_not_taken_for_a_new_store() {
    use super::FILE_NAME;
    // A directory of its own: a store closed in this process may still
    // checkpoint into its file for a moment, and fill it again.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    std::fs::write(&file, b"").unwrap();
    let e = SqliteStore::open(dir.path(), Vec::new()).await.unwrap_err();
    assert!(e.0.contains("whistle.db is empty (0 bytes)"), "{e}");
    assert!(e.0.contains("restore it from a backup"), "{e}");
    // Refused before SQLite wrote a new store into it.
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 0);
    // Deleted, a new store is made, and opened again.
    std::fs::remove_file(&file).unwrap();
    let s = open(dir.path()).await;
    insert_one(&s, new_event(&policy(), "E1", "lamp", "G1", "{}", 0)).await;
    s.close().await.unwrap();
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    let s = open(dir.path()).await;
    assert_eq!(s.open_count().await.unwrap(), 1);
}

#[tokio::test]
async fn open_cases_leave_out_resolved_and_closed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let batch = ["E1", "E2", "E3", "E4"]
        .iter()
        .enumerate()
        .map(|(i, id)| new_event(&p, id, "lamp", "G1", "{}", i as i64 * 10))
        .collect();
    s.insert_events(batch).await.unwrap();
    act(&s, &p, "E2", accept(), 60).await;
    act(&s, &p, "E3", accept(), 60).await;
    act(&s, &p, "E3", resolve(), 70).await;
    act(&s, &p, "E4", accept(), 60).await;
    act(&s, &p, "E4", resolve(), 70).await;
    act(
        &s,
        &p,
        "E4",
        Action::Feedback {
            rating: 5,
            comment: None,
        },
        80,
    )
    .await;
    let mut open: Vec<_> = s
        .open_cases()
        .await
        .unwrap()
        .into_iter()
        .map(|(v, c)| (c.event.id.to_string(), v, c.state))
        .collect();
    open.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        open,
        [
            ("E1".to_string(), 1, State::Dispatched),
            ("E2".to_string(), 2, State::Accepted)
        ]
    );
    assert_eq!(s.open_count().await.unwrap(), 2);
    let closed = s.get_event("E4").await.unwrap().unwrap();
    assert_eq!((closed.version, closed.case.state), (4, State::Closed));
}

#[tokio::test]
async fn events_since_reads_by_reported_at() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let batch = (0..5)
        .map(|i| new_event(&p, &format!("E{i}"), "litter", "G3", "{}", 100 - i * 10))
        .collect();
    s.insert_events(batch).await.unwrap();
    let ids: Vec<_> = s
        .events_since(t(80))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["E2", "E1", "E0"]);
}

#[tokio::test]
async fn histories_come_with_their_cases_in_report_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    // Reported in the order E2, E0, E1; E3 after the span.
    let batch = [("E0", 20), ("E1", 30), ("E2", 10), ("E3", 500)]
        .iter()
        .map(|(id, at)| new_event(&p, id, "litter", "G3", "{}", *at))
        .collect();
    s.insert_events(batch).await.unwrap();
    let accepted = act(&s, &p, "E0", accept(), 40).await.len();
    let resolved = act(&s, &p, "E0", resolve(), 50).await.len();
    act(&s, &p, "E2", accept(), 60).await;
    let mut got = Vec::new();
    let n = s
        .histories_reported(t(0), t(100), &mut |case, history| {
            got.push((case, history));
        })
        .await
        .unwrap();
    assert_eq!(n, 3);
    let ids: Vec<&str> = got.iter().map(|(c, _)| c.event.id.as_str()).collect();
    assert_eq!(ids, ["E2", "E0", "E1"]);
    let journal = |id: &str| {
        let seen: Vec<(Timestamp, &'static str)> = got
            .iter()
            .find(|(c, _)| c.event.id == id)
            .unwrap()
            .1
            .iter()
            .map(|t| (t.at, t.kind()))
            .collect();
        seen
    };
    let opened = s.journal_for("E1").await.unwrap().len();
    assert_eq!(journal("E1").len(), opened, "every transition of E1");
    assert_eq!(journal("E0").len(), opened + accepted + resolved);
    assert_eq!(journal("E0")[opened..][0], (t(40), "accepted"));
    assert_eq!(journal("E0").last(), Some(&(t(50), "resolved")));
    assert_eq!(journal("E2").last(), Some(&(t(60), "accepted")));
    // Replayed to before the acceptance, E0 is as it was opened.
    let (e0, h0) = got.iter().find(|(c, _)| c.event.id == "E0").unwrap();
    assert_eq!(e0.as_of(&p, h0, t(39)).accepted_at, None);
    assert_eq!(e0.as_of(&p, h0, t(45)).accepted_at, Some(t(40)));
}

/// An assessment says how far it has read, every `PROGRESS_EVERY`
/// events, whether it replays an ended period or reads a running one.
#[tokio::test]
async fn a_period_report_tells_how_far_it_has_read() {
    use crate::assessment::{PROGRESS_EVERY, period_report};
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let n = PROGRESS_EVERY + 10;
    let batch = (0..n)
        .map(|i| new_event(&p, &format!("E{i}"), "litter", "G3", "{}", i as i64))
        .collect();
    s.insert_events(batch).await.unwrap();
    // The events are reported on 2025-06-03 (Shanghai).
    let period =
        whistle_engine::assess::Period::parse("2025-06-03", p.calendar.time_zone()).unwrap();
    for now in [t(86_400 * 30), t(n as i64 + 10)] {
        let mut calls = Vec::new();
        let r = period_report(&s, &p, &period, now, &mut |k| calls.push(k))
            .await
            .unwrap();
        assert_eq!(r.district.count, n, "at {now}");
        assert_eq!(calls, [PROGRESS_EVERY], "at {now}");
    }
}

/// The one number `sql` selects, read on the writer connection.
async fn number(s: &SqliteStore, sql: &'static str) -> i64 {
    let mut w = s.writer.lock().await;
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut w.conn).await.unwrap();
    n
}

/// What every read of the store gives for `ids`, as JSON (to compare
/// reads before and after the stored texts change form).
async fn read_everything(s: &SqliteStore, ids: &[&str]) -> serde_json::Value {
    let mut one = Vec::new();
    for id in ids {
        one.push(serde_json::to_value(s.get_event(id).await.unwrap().unwrap()).unwrap());
    }
    let page = s
        .list_events(&ListQuery {
            limit: 100,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    let mut open: Vec<_> = s.open_cases().await.unwrap();
    open.sort_by(|a, b| a.1.event.id.cmp(&b.1.event.id));
    let owned: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let mut of = s.cases_of(&owned).await.unwrap();
    of.sort_by(|a, b| a.event.id.cmp(&b.event.id));
    let mut reported = Vec::new();
    s.cases_reported(t(-10), t(1000), &mut |c, _| reported.push(c))
        .await
        .unwrap();
    json!({
        "one": one,
        "page": page,
        "open": open.iter().map(|(v, c)| json!([v, c])).collect::<Vec<_>>(),
        "of": of,
        "reported": reported,
    })
}

#[tokio::test]
async fn decisions_and_cases_are_stored_packed_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let e = new_event(&p, "E1", "lamp", "G1", r#"{"trapped":1}"#, 0);
    let case_json = serde_json::to_string(&*e.case).unwrap();
    insert_one(&s, e).await;
    let blobs = "SELECT count(*) FROM events \
         WHERE typeof(decision_json) = 'blob' AND typeof(case_json) = 'blob'";
    assert_eq!(number(&s, blobs).await, 1);
    let case_len = number(&s, "SELECT length(case_json) FROM events WHERE id = 'E1'").await;
    assert!(
        (case_len as usize) * 2 < case_json.len(),
        "{case_len} bytes stored for a case of {}",
        case_json.len()
    );
    act(&s, &p, "E1", accept(), 30).await;
    let back = s.get_event("E1").await.unwrap().unwrap();
    assert_eq!(back.case.state, State::Accepted);
    assert_eq!(back.version, 2);
}

#[tokio::test]
async fn texts_stored_as_json_by_the_first_version_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let batch = ["E1", "E2", "E3"]
        .iter()
        .enumerate()
        .map(|(i, id)| new_event(&p, id, "lamp", "G1", "{}", i as i64 * 10))
        .collect();
    s.insert_events(batch).await.unwrap();
    act(&s, &p, "E2", accept(), 60).await;
    let ids = ["E1", "E2", "E3"];
    let packed = read_everything(&s, &ids).await;
    // Rewrite the rows as the first version wrote them: JSON text.
    for id in ids {
        let got = s.get_event(id).await.unwrap().unwrap();
        let mut w = s.writer.lock().await;
        sqlx::query("UPDATE events SET decision_json = ?, case_json = ? WHERE id = ?")
            .bind(got.decision.to_string())
            .bind(serde_json::to_string(&got.case).unwrap())
            .bind(id)
            .execute(&mut w.conn)
            .await
            .unwrap();
    }
    let texts = "SELECT count(*) FROM events \
         WHERE typeof(decision_json) = 'text' AND typeof(case_json) = 'text'";
    assert_eq!(number(&s, texts).await, 3);
    assert_eq!(read_everything(&s, &ids).await, packed);
    // An update writes the case packed again; the old decision stays.
    act(&s, &p, "E1", accept(), 70).await;
    assert_eq!(
        s.get_event("E1").await.unwrap().unwrap().case.state,
        State::Accepted
    );
}

#[tokio::test]
async fn a_damaged_packed_case_is_named_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    insert_one(&s, new_event(&p, "E1", "lamp", "G1", "{}", 0)).await;
    tamper(
        &s,
        "UPDATE events SET case_json = x'0900000000' WHERE id = 'E1'",
    )
    .await;
    let err = s.get_event("E1").await.unwrap_err();
    assert!(
        err.0.contains("\"E1\"") && err.0.contains("case") && err.0.contains("format 9"),
        "{err}"
    );
    let err = s.open_cases().await.unwrap_err();
    assert!(err.0.contains("\"E1\""), "{err}");
}

/// The ids listed for `department`, newest first.
async fn of_department(s: &SqliteStore, department: &str) -> Vec<String> {
    s.list_events(&ListQuery {
        department: Some(department.into()),
        limit: 100,
        ..ListQuery::default()
    })
    .await
    .unwrap()
    .events
    .into_iter()
    .map(|e| e.id)
    .collect()
}

/// The writer, once every shard of keys is merged into the tables.
async fn merged(s: &SqliteStore) -> tokio::sync::MutexGuard<'_, super::Writer> {
    let mut w = s.writer.lock().await;
    let mut keys = w.take_keys().await.unwrap();
    super::keys::merge_all(&mut w.conn, &mut keys)
        .await
        .unwrap();
    w.keys = Some(keys);
    w
}

/// `(department, event_id, role)` of every `event_departments` row, once
/// every shard of keys is merged.
async fn department_rows(s: &SqliteStore) -> Vec<(String, String, String)> {
    let mut w = merged(s).await;
    sqlx::query_as("SELECT department, event_id, role FROM event_departments ORDER BY 2, 1")
        .fetch_all(&mut w.conn)
        .await
        .unwrap()
}

/// `(unit, event_id)` of every `event_units` row, once every shard of keys
/// is merged.
async fn unit_rows(s: &SqliteStore) -> Vec<(String, String)> {
    let mut w = merged(s).await;
    sqlx::query_as("SELECT unit, event_id FROM event_units ORDER BY 2, 1")
        .fetch_all(&mut w.conn)
        .await
        .unwrap()
}

/// A change for [`Store::update_cases`].
fn change<'a>(
    id: &'a str,
    expected_version: i64,
    case: &'a Case,
    transitions: &'a [Transition],
) -> crate::store::CaseChange<'a> {
    crate::store::CaseChange {
        id,
        expected_version,
        case,
        transitions,
    }
}

/// A new store in a temporary directory (kept alive by the caller) holding
/// E1, a red lamp in G1 (urban leads, fire assists), and E2, litter in G3
/// (grid_team leads).
async fn red_lamp_and_litter() -> (tempfile::TempDir, SqliteStore, Policy) {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let p = policy();
    let batch = vec![
        new_event(&p, "E1", "lamp", "G1", r#"{"trapped":1}"#, 0),
        new_event(&p, "E2", "litter", "G3", "{}", 10),
    ];
    let r = s.insert_events(batch).await.unwrap();
    assert!(r.iter().all(|r| matches!(r, Inserted::Created)), "{r:?}");
    (dir, s, p)
}

/// A reassignment to another lead department.
fn lead_to(department: &str) -> Action {
    Action::Reassign {
        unit: None,
        lead: Some(department.into()),
    }
}

fn rows(want: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    want.iter()
        .map(|(d, e, r)| (d.to_string(), e.to_string(), r.to_string()))
        .collect()
}

#[tokio::test]
async fn departments_follow_reassignments_and_whistles() {
    let (_dir, s, p) = red_lamp_and_litter().await;
    assert_eq!(
        department_rows(&s).await,
        rows(&[
            ("fire", "E1", "assist"),
            ("urban", "E1", "lead"),
            ("grid_team", "E2", "lead"),
        ])
    );
    // Accepting changes no department: the rows stay as they are.
    act(&s, &p, "E1", accept(), 20).await;
    assert_eq!(of_department(&s, "urban").await, ["E1"]);
    // A new lead: its rows replace the old lead's.
    act(&s, &p, "E2", lead_to("urban"), 30).await;
    assert_eq!(of_department(&s, "urban").await, ["E2", "E1"]);
    assert!(of_department(&s, "grid_team").await.is_empty());
    // A whistle summons a department: it assists from then on.
    act(
        &s,
        &p,
        "E2",
        Action::Whistle {
            departments: vec!["command".into()],
        },
        40,
    )
    .await;
    assert_eq!(of_department(&s, "command").await, ["E2"]);
    assert_eq!(
        department_rows(&s).await,
        rows(&[
            ("fire", "E1", "assist"),
            ("urban", "E1", "lead"),
            ("command", "E2", "assist"),
            ("urban", "E2", "lead"),
        ])
    );
}

#[tokio::test]
async fn a_case_changed_twice_in_one_call_keeps_only_its_last_departments() {
    let (_dir, s, p) = red_lamp_and_litter().await;
    let stored = s.get_event("E2").await.unwrap().unwrap();
    let mut once = stored.case.clone();
    let first = apply(&p, &mut once, lead_to("urban"), t(30), &NoHistory).unwrap();
    let mut twice = once.clone();
    let second = apply(&p, &mut twice, lead_to("fire"), t(40), &NoHistory).unwrap();
    let got = s
        .update_cases(&[
            change("E2", stored.version, &once, &first),
            change("E2", stored.version + 1, &twice, &second),
        ])
        .await
        .unwrap();
    assert_eq!(got, [Updated::Ok(2), Updated::Ok(3)]);
    assert_eq!(
        department_rows(&s).await,
        rows(&[
            ("fire", "E1", "assist"),
            ("urban", "E1", "lead"),
            ("fire", "E2", "lead"),
        ])
    );
}

#[tokio::test]
async fn a_version_1_database_is_upgraded_with_nothing_lost() {
    let (dir, s, p) = red_lamp_and_litter().await;
    insert_one(&s, new_event(&p, "E3", "lamp", "G2", "{}", 20)).await;
    act(&s, &p, "E3", accept(), 30).await;
    let ids = ["E1", "E2", "E3"];
    let before = read_everything(&s, &ids).await;
    let rows_before = department_rows(&s).await;
    let units_before = unit_rows(&s).await;
    // Put the database back in version 1's shape.
    for sql in [
        "DROP TABLE event_units",
        "DROP TABLE key_marks",
        "CREATE INDEX events_unit ON events (unit, received_at, id)",
        "ALTER TABLE events DROP COLUMN departments",
        "CREATE TABLE v1 (event_id TEXT NOT NULL, department TEXT NOT NULL, \
         role TEXT NOT NULL, received_at INTEGER NOT NULL, \
         PRIMARY KEY (event_id, department)) WITHOUT ROWID",
        "INSERT INTO v1 SELECT event_id, department, role, received_at FROM event_departments",
        "DROP TABLE event_departments",
        "ALTER TABLE v1 RENAME TO event_departments",
        "CREATE INDEX event_departments_department \
         ON event_departments (department, received_at, event_id)",
        "ALTER TABLE outbox DROP COLUMN journal_seq",
        "PRAGMA user_version = 1",
    ] {
        tamper(&s, sql).await;
    }
    s.close().await.unwrap();

    let s = open(dir.path()).await;
    assert_eq!(read_everything(&s, &ids).await, before);
    assert_eq!(of_department(&s, "urban").await, ["E3", "E1"]);
    assert_eq!(of_department(&s, "fire").await, ["E1"]);
    assert_eq!(department_rows(&s).await, rows_before);
    assert_eq!(unit_rows(&s).await, units_before);
    assert_eq!(number(&s, "PRAGMA user_version").await, 5);
    let unit_index = "SELECT count(*) FROM sqlite_schema WHERE name = 'events_unit'";
    assert_eq!(number(&s, unit_index).await, 0);
    // Every event was in the tables before: every shard is marked past it.
    let marked = "SELECT count(*) FROM key_marks WHERE merged = (SELECT max(rowid) FROM events)";
    let shards = i64::try_from(super::keys::SHARDS).unwrap();
    assert_eq!(number(&s, marked).await, shards);
    let old_index =
        "SELECT count(*) FROM sqlite_schema WHERE name = 'event_departments_department'";
    assert_eq!(number(&s, old_index).await, 0);
    // The upgraded rows are found by their keys when the lead changes.
    act(&s, &p, "E1", lead_to("grid_team"), 40).await;
    assert_eq!(of_department(&s, "urban").await, ["E3"]);
    assert_eq!(of_department(&s, "grid_team").await, ["E2", "E1"]);
    assert_eq!(of_department(&s, "fire").await, ["E1"]);
    s.close().await.unwrap();
}

#[tokio::test]
async fn a_version_4_outbox_is_upgraded_and_its_items_still_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy();
    {
        let s = SqliteStore::open(dir.path(), vec!["city".into()])
            .await
            .unwrap();
        insert_one(&s, new_event(&p, "E1", "lamp", "G1", "{}", 0)).await;
        for sql in [
            "ALTER TABLE outbox DROP COLUMN journal_seq",
            "PRAGMA user_version = 4",
        ] {
            tamper(&s, sql).await;
        }
        s.close().await.unwrap();
    }
    let s = SqliteStore::open(dir.path(), vec!["city".into()])
        .await
        .unwrap();
    assert_eq!(number(&s, "PRAGMA user_version").await, 5);
    insert_one(&s, new_event(&p, "E2", "lamp", "G1", "{}", 0)).await;
    let items = s
        .outbox_claim(Timestamp::now(), 30, 100, None)
        .await
        .unwrap();
    let anchored: Vec<(&str, bool)> = items
        .iter()
        .map(|i| (i.payload["event_id"].as_str().unwrap(), i.journal.is_some()))
        .collect();
    assert_eq!(
        anchored,
        [("E1", false), ("E1", false), ("E2", true), ("E2", true)]
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    tamper(&s, "PRAGMA user_version = 99").await;
    s.close().await.unwrap();
    let err = SqliteStore::open(dir.path(), Vec::new()).await.unwrap_err();
    assert!(err.0.contains("schema version 99"), "{err}");
}

/// Every stored event (up to 1,000), newest first.
async fn every_event(s: &SqliteStore) -> Vec<crate::store::StoredEvent> {
    s.list_events(&ListQuery {
        limit: 1000,
        ..ListQuery::default()
    })
    .await
    .unwrap()
    .events
}

/// What every list by unit and by department must hold: the stored
/// events (all of them, newest first) whose case has that unit or
/// department, read from the cases themselves.
async fn check_lists(s: &SqliteStore, step: &str) {
    let all = every_event(s).await;
    for unit in ["G1", "G2", "G3", "C0101", "C0102", "S01", "D01"] {
        let want: Vec<&str> = all
            .iter()
            .filter(|e| e.case.unit.as_deref() == Some(unit))
            .map(|e| e.id.as_str())
            .collect();
        let got = s
            .list_events(&ListQuery {
                unit: Some(unit.into()),
                limit: 1000,
                ..ListQuery::default()
            })
            .await
            .unwrap()
            .events;
        let got: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(got, want, "unit {unit} after {step}");
    }
    for department in ["urban", "fire", "grid_team", "command"] {
        let want: Vec<&str> = all
            .iter()
            .filter(|e| e.case.lead == department || e.case.assist.iter().any(|a| a == department))
            .map(|e| e.id.as_str())
            .collect();
        // In pages of 3: a page's two walks merge at every cursor.
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = s
                .list_events(&ListQuery {
                    department: Some(department.into()),
                    limit: 3,
                    cursor,
                    ..ListQuery::default()
                })
                .await
                .unwrap();
            got.extend(page.events.into_iter().map(|e| e.id));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(got, want, "department {department} after {step}");
    }
}

#[tokio::test]
async fn lists_by_unit_and_department_see_every_key_merged_or_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path()).await;
    let p = policy();
    // A fixed pseudo-random sequence: which events, which reassignments.
    let mut seed: u64 = 7;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) % n
    };
    let units = ["G1", "G2", "G3", "C0101", "C0102", "S01"];
    let leads = ["urban", "fire", "grid_team", "command"];
    let mut n = 0;
    // More batches than shards, so that every shard is merged, some twice.
    for batch_no in 0..70 {
        let mut batch = Vec::new();
        for _ in 0..=next(3) {
            let id = format!("E{n:03}");
            batch.push(match next(3) {
                0 => new_event(&p, &id, "lamp", "G2", r#"{"trapped":1}"#, n * 10),
                1 => new_event(&p, &id, "lamp", "G1", "{}", n * 10),
                _ => new_event(&p, &id, "litter", "G3", "{}", n * 10),
            });
            n += 1;
        }
        s.insert_events(batch).await.unwrap();
        // Reassign an event: a recent one (its keys likely waiting) or an
        // old one (likely merged), to another unit, lead or both.
        if batch_no % 2 == 1 {
            let back = if next(2) == 0 {
                next(3)
            } else {
                next(n as u64)
            };
            let id = format!("E{:03}", n - 1 - back as i64);
            let unit = (next(3) != 0).then(|| units[next(6) as usize].to_string());
            let lead = (next(3) != 0).then(|| leads[next(4) as usize].to_string());
            let stored = s.get_event(&id).await.unwrap().unwrap();
            let mut case = stored.case;
            // A reassignment to where the case is already is refused.
            if let Ok(ts) = apply(
                &p,
                &mut case,
                Action::Reassign { unit, lead },
                t(n * 10),
                &NoHistory,
            ) {
                let done = s
                    .update_case(&id, stored.version, &case, &ts)
                    .await
                    .unwrap();
                assert_eq!(done, Updated::Ok(stored.version + 1));
            }
        }
        if batch_no % 9 == 4 {
            check_lists(&s, &format!("batch {batch_no}")).await;
        }
        // Reopened, the writer rebuilds its waiting keys from the events.
        if batch_no == 20 {
            s.close().await.unwrap();
            s = open(dir.path()).await;
            check_lists(&s, "reopening").await;
        }
    }
    check_lists(&s, "the last batch").await;
    // Merged at last, the tables hold exactly the cases' keys.
    let all = every_event(&s).await;
    let mut want_units: Vec<(String, String)> = all
        .iter()
        .filter_map(|e| Some((e.case.unit.clone()?.to_string(), e.id.clone())))
        .collect();
    want_units.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    assert_eq!(unit_rows(&s).await, want_units);
    check_lists(&s, "merging every shard").await;
}

#[tokio::test]
async fn a_list_of_waiting_keys_walks_only_the_events_after_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let mut w = s.writer.lock().await;
    // With a state filter and the order by time, SQLite would rather walk
    // an index of every event; the walk after the mark must stay by rowid.
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT e.id FROM events p CROSS JOIN events e ON e.rowid = p.rowid \
         WHERE p.rowid > ? AND e.unit = ? AND e.state = ? ORDER BY e.received_at DESC, e.id DESC LIMIT 5",
    )
    .bind(0)
    .bind("S01")
    .bind("dispatched")
    .fetch_all(&mut w.conn)
    .await
    .unwrap();
    let details: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        details[0].contains("SEARCH p USING INTEGER PRIMARY KEY (rowid>?)"),
        "{details:?}"
    );
}

/// `cargo test --release -p whistle-server store::sqlite::tests::insert_rate -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn insert_rate() {
    let n: usize = std::env::var("WHISTLE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let batch: usize = std::env::var("WHISTLE_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let p = policy();
    for targets in [0usize, 1] {
        let dir = tempfile::tempdir().unwrap();
        let names = (0..targets).map(|i| format!("hook{i}")).collect();
        let s = SqliteStore::open(dir.path(), names).await.unwrap();
        let prototypes: Vec<NewEvent> = (0..16)
            .map(|i| match i % 4 {
                0 => new_event(&p, "X", "lamp", "G2", r#"{"trapped":1}"#, i),
                1 | 2 => new_event(&p, "X", "lamp", "G1", "{}", i),
                _ => new_event(&p, "X", "litter", "G3", "{}", i),
            })
            .collect();
        let mut batches: Vec<Vec<NewEvent>> = Vec::new();
        for start in (0..n).step_by(batch) {
            batches.push(
                (start..(start + batch).min(n))
                    .map(|i| {
                        let e = &prototypes[i % 16];
                        let mut event = e.event().clone();
                        event.id = format!("EV{i:07}").into();
                        let mut case = (**e.case()).clone();
                        case.event.id = event.id.clone();
                        NewEvent::new(
                            event,
                            e.body_hash().to_string(),
                            e.decision().to_string(),
                            std::sync::Arc::new(case),
                            e.transitions().to_vec(),
                            e.received_at(),
                        )
                        .unwrap()
                    })
                    .collect(),
            );
        }
        let cpu_before = cpu_seconds();
        let started = std::time::Instant::now();
        for b in batches {
            s.insert_events(b).await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        let size = std::fs::metadata(dir.path().join("whistle.db"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "{n} events in batches of {batch}, {targets} webhook(s): {secs:.2} s, {:.0} events/s, \
             {cpu:.2} CPU-s ({:.1} µs of CPU per event), file {} MB",
            n as f64 / secs,
            cpu * 1e6 / n as f64,
            size / 1_000_000
        );
        assert_eq!(s.verify().await.unwrap().first_broken, None);
        s.close().await.unwrap();
    }
}

/// CPU time (user + system) of this process so far, from `/proc` (0 where
/// there is none); at the usual 100 ticks a second.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which ends with ')'): state is the 3rd
    // field, utime the 14th, stime the 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

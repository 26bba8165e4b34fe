//! The event lifecycle: states, refusals, reopen, reassign, whistle and the
//! escalation ladder, on a small policy with second-scale limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use jiff::Timestamp;
use whistle_engine::cond::RepeatsBy;
use whistle_engine::event::{Event, parse_event};
use whistle_engine::lifecycle::{
    Action, Case, Change, Recipient, RefusalCode, State, StepStatus, Transition, adopt, apply,
    redecide,
};
use whistle_engine::windows::{History, NoHistory};
use whistle_engine::{Context, Policy, compile_texts, decide};

const BASE: &str = r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street < district
department urban "城管" { level street }
department police "派出所" { level street }
department fire "消防" { level street }
department grid_team "网格" { level grid }
department command "综治中心" { level district }
department civil "民政" { level street }
grades blue < yellow < red
grade blue   { level grid      respond 10s resolve 30s }
grade yellow { level community respond 20s resolve 60s }
grade red    { level street    respond 10s resolve 40s }
fallback { lead command grade blue }
category lamp {
  lead urban
  assist fire when grade >= yellow
  grade red when attr.trapped > 0
  grade yellow when reopened >= 1
  grade blue
}
category litter { lead grid_team grade blue }
category tax { lead civil grade yellow }
empower grid { resolve litter }
relieve grid { forbid tax }
escalate {
  at 50% respond -> remind
  at 100% respond -> raise 1, notify command
  at 100% resolve -> raise to district
  when reopened >= 2 -> raise to street
  when attr.loud == true -> whistle police
  when repeats(7d) >= 3 -> notify civil
}
escalate for red {
  at 50% respond -> raise 2
  at 100% respond -> raise 1
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

fn policy_with(text: &str) -> Policy {
    compile_texts(&[("base.whistle", text), ("areas.yaml", AREAS)])
        .unwrap_or_else(|e| panic!("{e}"))
}

fn policy() -> Policy {
    policy_with(BASE)
}

/// 2025-06-03T10:00:00+08:00 plus `s` seconds.
fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_748_916_000 + s).unwrap()
}

fn event(category: &str, grid: &str, attr: &str) -> Event {
    parse_event(&format!(
        r#"{{"id":"E1","category":"{category}","grid":"{grid}","source":"patrol",
            "reported_at":"2025-06-03T10:00:00+08:00","attr":{attr}}}"#
    ))
    .unwrap()
}

fn open(p: &Policy, category: &str, attr: &str) -> (Case, Vec<Transition>) {
    let ev = event(category, "G1", attr);
    let d = decide(p, &ev, &Context::default());
    Case::open(p, ev, &d, t(0), &NoHistory)
}

fn act(p: &Policy, c: &mut Case, a: Action, at: i64) -> Vec<Transition> {
    apply(p, c, a, t(at), &NoHistory).unwrap_or_else(|r| panic!("refused: {r}"))
}

fn kinds(ts: &[Transition]) -> Vec<&'static str> {
    ts.iter().map(Transition::kind).collect()
}

fn accept() -> Action {
    Action::Accept {
        by: Some("li".into()),
    }
}
fn resolve() -> Action {
    Action::Resolve {
        note: Some("fixed".into()),
    }
}
fn feedback(rating: u8) -> Action {
    Action::Feedback {
        rating,
        comment: Some("ok".into()),
    }
}
fn reopen() -> Action {
    Action::Reopen {
        reason: Some("again".into()),
    }
}
fn whistle(ds: &[&str]) -> Action {
    Action::Whistle {
        departments: ds.iter().map(|d| d.to_string()).collect(),
    }
}
fn ack(d: &str) -> Action {
    Action::Ack {
        department: d.into(),
    }
}

#[test]
fn the_happy_path_walks_every_state() {
    let p = policy();
    let (mut c, tr) = open(&p, "lamp", "{}");
    assert_eq!(kinds(&tr), ["reported", "dispatched"]);
    assert_eq!(
        (tr[0].from, tr[0].to, tr[0].at),
        (None, State::Reported, t(0))
    );
    assert_eq!(
        (tr[1].from, tr[1].to),
        (Some(State::Reported), State::Dispatched)
    );
    let Change::Dispatched {
        grade,
        handler,
        respond_by,
        ..
    } = &tr[1].change
    else {
        panic!()
    };
    assert_eq!(
        (
            grade.as_str(),
            handler.level.as_str(),
            handler.unit.as_deref(),
            handler.lead.as_str()
        ),
        ("blue", "grid", Some("G1"), "urban")
    );
    assert_eq!(*respond_by, t(10));
    assert_eq!(c.next_due(), Some(t(5)), "at 50% respond");

    let tr = act(&p, &mut c, accept(), 3);
    assert_eq!(kinds(&tr), ["accepted"]);
    assert_eq!(
        (tr[0].from, tr[0].to),
        (Some(State::Dispatched), State::Accepted)
    );
    assert_eq!(c.accepted_by.as_deref(), Some("li"));
    assert_eq!(
        c.next_due(),
        Some(t(30)),
        "respond steps are skipped once accepted"
    );

    let tr = act(&p, &mut c, resolve(), 20);
    assert_eq!(kinds(&tr), ["resolved"]);
    assert_eq!(c.next_due(), None);
    let tr = act(&p, &mut c, feedback(5), 25);
    assert_eq!(kinds(&tr), ["closed"]);
    assert_eq!(
        (c.state, c.rating, c.closed_at),
        (State::Closed, Some(5), Some(t(25)))
    );

    let f = c.facts(t(1000));
    assert_eq!(
        (f.on_time_response, f.on_time_resolution, f.overdue),
        (Some(true), Some(true), false)
    );
    assert_eq!(
        (f.first_contact, f.escalated, f.reopened),
        (Some(true), false, false)
    );
    assert_eq!(
        (f.satisfied, f.source_resolution, f.active_discovery),
        (Some(true), Some(true), true)
    );
    assert!((f.resolution_hours.unwrap() - 20.0 / 3600.0).abs() < 1e-9);
}

#[test]
fn an_on_the_spot_event_resolves_straight_from_dispatch() {
    let p = policy();
    let (mut c, _) = open(&p, "litter", "{}");
    assert!(c.on_the_spot);
    let tr = act(&p, &mut c, resolve(), 2);
    assert_eq!(kinds(&tr), ["accepted", "resolved"]);
    assert_eq!((c.accepted_at, c.resolved_at), (Some(t(2)), Some(t(2))));
    assert_eq!(c.source_resolved, Some(true));
}

/// Tries an action that must be refused and checks the case did not change.
fn refused(p: &Policy, c: &mut Case, a: Action, at: i64, code: RefusalCode) -> String {
    let before = c.clone();
    let what = format!("{a:?}");
    let r = apply(p, c, a, t(at), &NoHistory).expect_err(&what);
    assert_eq!(r.code, code, "{what}: {r}");
    assert_eq!(r.state, c.state);
    assert_eq!(*c, before, "{what} was refused but changed the case");
    r.message
}

#[test]
fn every_invalid_transition_is_refused_and_changes_nothing() {
    use RefusalCode::*;
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    // Dispatched, with the 50% step due but not yet ticked: a refusal fires nothing either.
    let m = refused(&p, &mut c, resolve(), 7, InvalidState);
    assert!(
        m.contains("dispatched") && m.contains("allowed now: accept, reassign, whistle, ack"),
        "{m}"
    );
    refused(&p, &mut c, feedback(5), 7, InvalidState);
    refused(&p, &mut c, reopen(), 7, InvalidState);
    refused(&p, &mut c, ack("police"), 7, NotSummoned);
    refused(&p, &mut c, ack("nobody"), 7, UnknownDepartment);
    refused(&p, &mut c, whistle(&["urban"]), 7, IsLead);
    refused(
        &p,
        &mut c,
        whistle(&["police", "nobody"]),
        7,
        UnknownDepartment,
    );
    refused(&p, &mut c, whistle(&[]), 7, NoDepartments);
    refused(
        &p,
        &mut c,
        Action::Reassign {
            unit: None,
            lead: None,
        },
        7,
        NoChange,
    );
    refused(
        &p,
        &mut c,
        Action::Reassign {
            unit: Some("G1".into()),
            lead: None,
        },
        7,
        NoChange,
    );
    refused(
        &p,
        &mut c,
        Action::Reassign {
            unit: None,
            lead: Some("urban".into()),
        },
        7,
        NoChange,
    );
    refused(
        &p,
        &mut c,
        Action::Reassign {
            unit: Some("X9".into()),
            lead: None,
        },
        7,
        UnknownUnit,
    );
    refused(
        &p,
        &mut c,
        Action::Reassign {
            unit: None,
            lead: Some("nobody".into()),
        },
        7,
        UnknownDepartment,
    );
    assert_eq!(c.steps[0].status, StepStatus::Armed);

    act(&p, &mut c, accept(), 8);
    refused(&p, &mut c, accept(), 8, InvalidState);
    refused(&p, &mut c, feedback(4), 8, InvalidState);
    refused(&p, &mut c, reopen(), 8, InvalidState);

    act(&p, &mut c, resolve(), 9);
    for a in [
        accept(),
        resolve(),
        whistle(&["police"]),
        Action::Reassign {
            unit: Some("G2".into()),
            lead: None,
        },
    ] {
        refused(&p, &mut c, a, 9, InvalidState);
    }
    refused(&p, &mut c, feedback(0), 9, BadRating);
    let m = refused(&p, &mut c, feedback(6), 9, BadRating);
    assert!(m.contains("1 to 5"), "{m}");

    act(&p, &mut c, feedback(3), 10);
    for a in [
        accept(),
        resolve(),
        feedback(5),
        whistle(&["police"]),
        ack("police"),
        Action::Reassign {
            unit: None,
            lead: Some("civil".into()),
        },
    ] {
        let m = refused(&p, &mut c, a, 11, InvalidState);
        assert!(
            m.contains("it is closed") && m.ends_with("allowed now: reopen"),
            "{m}"
        );
    }
    // A tick on a closed case is no refusal: there is just nothing to do.
    assert!(act(&p, &mut c, Action::Tick, 100).is_empty());
}

#[test]
fn reopen_counts_and_decides_again() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    assert_eq!((c.grade.as_str(), c.level.as_str()), ("blue", "grid"));
    act(&p, &mut c, accept(), 1);
    act(&p, &mut c, resolve(), 2);
    act(&p, &mut c, feedback(2), 3);
    let tr = act(&p, &mut c, reopen(), 100);
    assert_eq!(kinds(&tr), ["reopened"]);
    assert_eq!(
        (tr[0].from, tr[0].to),
        (Some(State::Closed), State::Dispatched)
    );
    let Change::Reopened {
        count,
        previous_grade,
        grade,
        handler,
        respond_by,
        resolve_by,
        reason,
    } = &tr[0].change
    else {
        panic!()
    };
    assert_eq!(
        (*count, previous_grade.as_str(), grade.as_str()),
        (1, "blue", "yellow")
    );
    assert_eq!(reason.as_deref(), Some("again"));
    // Yellow is handled at community: the reopen puts it higher, never lower.
    assert_eq!(
        (handler.level.as_str(), handler.unit.as_deref()),
        ("community", Some("C0101"))
    );
    // The clocks restart at the reopen with yellow's limits (20s, 60s).
    assert_eq!((*respond_by, *resolve_by), (t(120), t(160)));
    assert_eq!(c.reopened, 1);
    assert_eq!(
        c.assist,
        ["fire"],
        "assist lines are decided again with the new grade"
    );
    assert_eq!(
        (c.accepted_at, c.resolved_at, c.closed_at),
        (None, None, None)
    );
    assert!(
        c.steps.iter().all(|s| s.status == StepStatus::Armed),
        "the ladder is re-armed"
    );
    assert_eq!(c.next_due(), Some(t(110)));
    assert!(c.facts(t(101)).reopened);
    // The first round's on-time verdicts stand while the new round may
    // still be on time, and fall once its deadline passes unmet.
    let f = c.facts(t(101));
    assert_eq!(
        (f.on_time_response, f.on_time_resolution, f.overdue),
        (Some(true), Some(true), false)
    );
    let f = c.facts(t(121));
    assert_eq!(
        (f.on_time_response, f.on_time_resolution, f.overdue),
        (Some(false), Some(true), true)
    );

    // From resolved too.
    act(&p, &mut c, accept(), 101);
    act(&p, &mut c, resolve(), 102);
    let tr = act(&p, &mut c, reopen(), 200);
    assert_eq!(tr[0].from, Some(State::Resolved));
    assert_eq!(c.reopened, 2);
}

#[test]
fn when_reopened_twice_the_ladder_raises_to_street() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    let label = |tr: &[Transition]| {
        tr.iter().any(|x| matches!(&x.change, Change::StepFired { label, .. } if label.as_str() == "when reopened >= 2"))
    };
    act(&p, &mut c, accept(), 1);
    act(&p, &mut c, resolve(), 2);
    let first = act(&p, &mut c, reopen(), 3);
    assert!(!label(&first), "{first:?}");
    assert_eq!(c.level.as_str(), "community");
    act(&p, &mut c, accept(), 4);
    act(&p, &mut c, resolve(), 5);
    let second = act(&p, &mut c, reopen(), 6);
    assert_eq!(kinds(&second), ["reopened", "step_fired", "raised"]);
    assert!(label(&second));
    let Change::Raised {
        from_level,
        to_level,
        unit,
        ..
    } = &second[2].change
    else {
        panic!()
    };
    assert_eq!(
        (from_level.as_str(), to_level.as_str(), unit.as_deref()),
        ("community", "street", Some("S01"))
    );
    assert!(c.raised);
    // Fired once: another action does not fire it again.
    let again = act(&p, &mut c, accept(), 7);
    assert_eq!(kinds(&again), ["accepted"]);
}

#[test]
fn reassigning_breaks_first_contact() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    act(&p, &mut c, accept(), 1);
    let tr = act(
        &p,
        &mut c,
        Action::Reassign {
            unit: Some("C0102".into()),
            lead: Some("police".into()),
        },
        2,
    );
    assert_eq!(kinds(&tr), ["reassigned"]);
    assert_eq!(
        (tr[0].from, tr[0].to),
        (Some(State::Accepted), State::Dispatched)
    );
    let Change::Reassigned { before, after } = &tr[0].change else {
        panic!()
    };
    assert_eq!(
        (before.unit.as_deref(), before.lead.as_str()),
        (Some("G1"), "urban")
    );
    assert_eq!(
        (
            after.level.as_str(),
            after.unit.as_deref(),
            after.lead.as_str()
        ),
        ("community", Some("C0102"), "police")
    );
    assert_eq!(
        (c.first.unit.as_deref(), c.first.lead.as_str()),
        (Some("G1"), "urban")
    );
    assert!(c.reassigned);
    act(&p, &mut c, accept(), 3);
    act(&p, &mut c, resolve(), 4);
    let f = c.facts(t(5));
    assert_eq!(f.first_contact, Some(false));
    assert_eq!(
        f.on_time_response,
        Some(true),
        "the first acceptance counts"
    );
    assert_eq!(c.accepted_at, Some(t(1)));
    // A reopen does not take the miss out of the share: the event was
    // resolved once, after a reassignment.
    act(&p, &mut c, Action::Reopen { reason: None }, 6);
    assert_eq!(c.resolved_at, None);
    assert_eq!(c.facts(t(7)).first_contact, Some(false));
}

#[test]
fn a_reassignment_respects_the_relief_list() {
    let p = policy();
    let ev = event("tax", "G1", "{}");
    let d = decide(&p, &ev, &Context::default());
    let (mut c, _) = Case::open(&p, ev, &d, t(0), &NoHistory);
    refused(
        &p,
        &mut c,
        Action::Reassign {
            unit: Some("G2".into()),
            lead: None,
        },
        1,
        RefusalCode::RelievedLevel,
    );
}

#[test]
fn whistled_departments_join_and_must_acknowledge_in_time() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    let tr = act(&p, &mut c, whistle(&["police", "fire", "police"]), 1);
    assert_eq!(kinds(&tr), ["whistled"]);
    let Change::Whistled {
        departments,
        ack_by,
        step,
        ..
    } = &tr[0].change
    else {
        panic!()
    };
    assert_eq!(departments, &["police", "fire"]);
    assert_eq!(
        (*ack_by, *step),
        (t(11), None),
        "blue's respond limit, 10s, from the whistle"
    );
    assert_eq!(c.assist, ["police", "fire"]);
    refused(
        &p,
        &mut c,
        whistle(&["fire"]),
        2,
        RefusalCode::AlreadySummoned,
    );

    act(&p, &mut c, accept(), 2);
    let tr = act(&p, &mut c, ack("police"), 3);
    assert_eq!(kinds(&tr), ["acked"]);
    assert!(
        matches!(&tr[0].change, Change::Acked { department, on_time: true, .. } if department.as_str() == "police")
    );
    refused(&p, &mut c, ack("police"), 4, RefusalCode::AlreadyAcked);
    refused(&p, &mut c, ack("civil"), 4, RefusalCode::NotSummoned);

    // Fire misses its deadline: the handler is told once, at the deadline.
    assert_eq!(c.next_due(), Some(t(11)));
    let tr = act(&p, &mut c, Action::Tick, 11);
    assert_eq!(kinds(&tr), ["ack_overdue"]);
    let Change::AckOverdue {
        department, notify, ..
    } = &tr[0].change
    else {
        panic!()
    };
    assert_eq!(department.as_str(), "fire");
    assert!(matches!(notify, Recipient::Handler { lead, .. } if lead.as_str() == "urban"));
    assert!(act(&p, &mut c, Action::Tick, 12).is_empty());
    let tr = act(&p, &mut c, ack("fire"), 13);
    assert!(matches!(
        &tr[0].change,
        Change::Acked { on_time: false, .. }
    ));
    // Police acknowledged, so it may be whistled again.
    assert_eq!(
        kinds(&act(&p, &mut c, whistle(&["police"]), 14)),
        ["whistled"]
    );
}

#[test]
fn a_when_step_fires_as_the_case_opens() {
    let p = policy();
    let (c, tr) = open(&p, "lamp", r#"{"loud": true}"#);
    assert_eq!(
        kinds(&tr),
        ["reported", "dispatched", "step_fired", "whistled"]
    );
    let Change::Whistled {
        departments,
        step,
        action,
        ..
    } = &tr[3].change
    else {
        panic!()
    };
    assert_eq!(
        (departments.as_slice(), *step),
        (&["police".into()][..], Some(4))
    );
    assert_eq!(action.as_deref(), Some("whistle police"));
    assert_eq!(c.summoned[0].step, Some(4));
}

#[test]
fn ladder_steps_fire_at_their_instants_once_each() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    assert!(act(&p, &mut c, Action::Tick, 4).is_empty());
    let tr = act(&p, &mut c, Action::Tick, 5);
    assert_eq!(kinds(&tr), ["step_fired", "reminded"]);
    assert!(
        matches!(&tr[1].change, Change::Reminded { recipient: Recipient::Handler { level, .. }, .. } if level.as_str() == "grid")
    );
    assert!(act(&p, &mut c, Action::Tick, 5).is_empty(), "never twice");
    let tr = act(&p, &mut c, Action::Tick, 10);
    assert_eq!(kinds(&tr), ["step_fired", "raised", "notified"]);
    assert!(
        matches!(&tr[1].change, Change::Raised { to_level, unit, .. } if to_level.as_str() == "community" && unit.as_deref() == Some("C0101"))
    );
    assert!(
        matches!(&tr[2].change, Change::Notified { recipient: Recipient::Department { department }, instead_of_raise: false, .. } if department.as_str() == "command")
    );
    // Accepted late; the resolve step still runs.
    let tr = act(&p, &mut c, accept(), 12);
    assert!(matches!(
        tr[0].change,
        Change::Accepted { on_time: false, .. }
    ));
    // A tick every second up to well past the end fires the last step once.
    let mut fired = Vec::new();
    for s in 13..100 {
        for x in act(&p, &mut c, Action::Tick, s) {
            if let Change::StepFired { step, due, .. } = x.change {
                fired.push((step, due, x.at));
            }
        }
    }
    assert_eq!(fired, [(2, Some(t(30)), t(30))]);
    assert_eq!(c.level.as_str(), "district");
    let f = c.facts(t(100));
    assert_eq!(
        (f.on_time_response, f.overdue, f.escalated),
        (Some(false), true, true)
    );
    assert_eq!(
        f.on_time_resolution,
        Some(false),
        "unresolved past its deadline"
    );
}

#[test]
fn respond_steps_are_skipped_once_accepted() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    // Accepted exactly at the 50% instant: the acceptance wins the tie.
    act(&p, &mut c, accept(), 5);
    assert_eq!(c.steps[0].status, StepStatus::Skipped);
    assert_eq!(c.steps[1].status, StepStatus::Skipped);
    let tr = act(&p, &mut c, Action::Tick, 100);
    assert_eq!(kinds(&tr), ["step_fired", "raised"]);
    assert!(matches!(tr[0].change, Change::StepFired { step: 2, .. }));
    // Reassigned back to dispatch, skipped steps stay skipped.
    act(
        &p,
        &mut c,
        Action::Reassign {
            unit: None,
            lead: Some("civil".into()),
        },
        101,
    );
    assert!(act(&p, &mut c, Action::Tick, 200).is_empty());
}

#[test]
fn an_action_first_fires_what_was_due_before_it() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    // No tick came (say the server was down): the accept at 7s owes the 5s step.
    let tr = act(&p, &mut c, accept(), 7);
    assert_eq!(kinds(&tr), ["step_fired", "reminded", "accepted"]);
    assert_eq!(tr[0].at, t(7));
    assert!(matches!(tr[0].change, Change::StepFired { step: 0, due: Some(d), .. } if d == t(5)));
    assert_eq!(
        (c.steps[0].status, c.steps[0].fired_at),
        (StepStatus::Fired, Some(t(7)))
    );
}

#[test]
fn a_raise_at_the_top_becomes_a_notification() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", r#"{"trapped": 1}"#);
    assert_eq!((c.grade.as_str(), c.level.as_str()), ("red", "street"));
    let tr = act(&p, &mut c, Action::Tick, 5);
    // raise 2 from street is capped at district, the top.
    assert!(
        matches!(&tr[1].change, Change::Raised { to_level, unit, .. } if to_level.as_str() == "district" && unit.as_deref() == Some("D01"))
    );
    let tr = act(&p, &mut c, Action::Tick, 10);
    assert_eq!(kinds(&tr), ["step_fired", "notified"]);
    let Change::Notified {
        recipient,
        instead_of_raise,
        action,
        ..
    } = &tr[1].change
    else {
        panic!()
    };
    assert!(*instead_of_raise);
    assert_eq!(action.as_str(), "raise 1");
    assert!(matches!(recipient, Recipient::Level { level, .. } if level.as_str() == "district"));
    assert_eq!(c.level.as_str(), "district");
}

/// Drives a case by its own `next_due` only, checking that nothing happens
/// just before each instant and something does at it.
fn drive_by_next_due(p: &Policy, c: &mut Case) -> Vec<Transition> {
    let mut all = Vec::new();
    while let Some(due) = c.next_due() {
        let s = due.as_second() - t(0).as_second();
        let before = c.clone();
        assert!(act(p, c, Action::Tick, s - 1).is_empty());
        assert_eq!(*c, before);
        let tr = act(p, c, Action::Tick, s);
        assert!(!tr.is_empty(), "next_due {due} but the tick did nothing");
        all.extend(tr);
        assert!(
            c.next_due().is_none_or(|n| n > due),
            "next_due must move on"
        );
    }
    all
}

#[test]
fn next_due_agrees_with_tick() {
    let p = policy();
    for attr in ["{}", r#"{"trapped": 1}"#, r#"{"loud": true}"#] {
        let (mut by_due, _) = open(&p, "lamp", attr);
        let mut by_second = by_due.clone();
        let a = drive_by_next_due(&p, &mut by_due);
        let mut b = Vec::new();
        for s in 0..200 {
            b.extend(act(&p, &mut by_second, Action::Tick, s));
        }
        assert_eq!(a, b, "{attr}");
        assert_eq!(by_due, by_second, "{attr}");
        assert!(
            by_due
                .steps
                .iter()
                .all(|s| s.status != StepStatus::Armed || s.due.is_none())
        );
    }
}

#[test]
fn a_case_survives_a_round_trip_through_json_and_a_restart() {
    let p = policy();
    let (mut c, mut log) = open(&p, "lamp", r#"{"loud": true}"#);
    log.extend(act(&p, &mut c, Action::Tick, 5));
    log.extend(act(&p, &mut c, whistle(&["fire"]), 6));
    log.extend(act(&p, &mut c, ack("police"), 7));
    log.extend(act(&p, &mut c, accept(), 8));
    let json = serde_json::to_string(&c).unwrap();
    let mut back: Case = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    // After the "restart", the fired step does not fire again.
    assert!(act(&p, &mut back, Action::Tick, 8).is_empty());
    assert_eq!(
        back.next_due(),
        Some(t(16)),
        "fire's acknowledgement deadline"
    );

    for x in &log {
        let v = serde_json::to_value(x).unwrap();
        assert_eq!(v["kind"], x.kind());
        assert!(v.get("detail").is_some() || x.kind() == "reported");
        let y: Transition = serde_json::from_value(v).unwrap();
        assert_eq!(&y, x);
    }
    let v = serde_json::to_value(&log[1]).unwrap();
    assert_eq!(v["detail"]["lead"], "urban");
    assert_eq!(v["detail"]["level"], "grid");
    assert_eq!(v["to"], "dispatched");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["steps"][0]["status"], "fired");
}

#[test]
fn actions_read_as_json() {
    let a: Action = serde_json::from_str(r#"{"action":"feedback","rating":4}"#).unwrap();
    assert_eq!(
        a,
        Action::Feedback {
            rating: 4,
            comment: None
        }
    );
    let a: Action = serde_json::from_str(r#"{"action":"tick"}"#).unwrap();
    assert_eq!(a, Action::Tick);
}

#[test]
fn an_open_case_adopts_a_new_policy_version_keeping_what_fired() {
    let p = policy();
    let (mut c, _) = open(&p, "lamp", "{}");
    act(&p, &mut c, Action::Tick, 5);
    // The new version adds a step and changes another's action.
    let q = policy_with(&BASE.replace(
        "at 100% respond -> raise 1, notify command",
        "at 100% respond -> notify command\n  at 80% respond -> notify civil",
    ));
    assert_ne!(p.hash, q.hash);
    // A server refreshing its timer heap after the reload sees the new step.
    let mut refreshed = c.clone();
    let tr = adopt(&q, &mut refreshed, t(6), &NoHistory);
    assert_eq!(kinds(&tr), ["policy_adopted"]);
    assert_eq!(refreshed.next_due(), Some(t(8)));
    assert!(adopt(&q, &mut refreshed, t(6), &NoHistory).is_empty());
    let tr = apply(&q, &mut c, Action::Tick, t(8), &NoHistory).unwrap();
    assert_eq!(kinds(&tr), ["policy_adopted", "step_fired", "notified"]);
    assert_eq!(c.policy.as_str(), &*q.hash);
    assert_eq!(
        c.steps[0].status,
        StepStatus::Fired,
        "the remind step is the same step"
    );
    let tr = apply(&q, &mut c, Action::Tick, t(10), &NoHistory).unwrap();
    assert_eq!(kinds(&tr), ["step_fired", "notified"]);
    assert_eq!(c.level.as_str(), "grid", "the new version does not raise");
}

/// A history that answers every `repeats` with the same count.
struct Repeats(u32);

impl History for Repeats {
    fn repeats(&self, _: &str, _: RepeatsBy, _: &str, _: u64, _: Timestamp) -> u32 {
        self.0
    }
}

#[test]
fn a_when_step_on_repeats_is_checked_again_on_every_change() {
    let p = policy();
    let (mut c, tr) = open(&p, "lamp", "{}");
    assert_eq!(kinds(&tr), ["reported", "dispatched"]);
    // More reports of the same came in; the next change of state sees them.
    let tr = apply(&p, &mut c, accept(), t(1), &Repeats(3)).unwrap();
    assert_eq!(kinds(&tr), ["accepted", "step_fired", "notified"]);
    assert!(
        matches!(&tr[2].change, Change::Notified { recipient: Recipient::Department { department }, .. } if department.as_str() == "civil")
    );
    let tr = apply(&p, &mut c, resolve(), t(2), &Repeats(5)).unwrap();
    assert_eq!(kinds(&tr), ["resolved"], "once per round");
}

#[test]
fn an_acknowledgement_may_follow_a_whistle_step_not_yet_ticked() {
    let p = policy_with(&BASE.replace(
        "at 100% respond -> raise 1\n}",
        "at 100% respond -> raise 1\n  at 30% respond -> whistle fire, urban\n}",
    ));
    let (mut c, _) = open(&p, "lamp", r#"{"trapped": 1}"#);
    // The lead is passed over by the whistle, so it cannot acknowledge.
    refused(&p, &mut c, ack("urban"), 4, RefusalCode::NotSummoned);
    refused(
        &p,
        &mut c,
        whistle(&["fire"]),
        4,
        RefusalCode::AlreadySummoned,
    );
    let tr = act(&p, &mut c, ack("fire"), 4);
    assert_eq!(kinds(&tr), ["step_fired", "whistled", "acked"]);
    let Change::Whistled { departments, .. } = &tr[1].change else {
        panic!()
    };
    assert_eq!(departments, &["fire"]);
}

/// Deciding an event again (a redecision, a reopen) counts the events
/// before it in `repeats`, as deciding it the first time did: not itself.
#[test]
fn deciding_again_does_not_count_the_event_itself_in_repeats() {
    let p = policy_with(&BASE.replace(
        "category litter { lead grid_team grade blue }",
        "category litter {\n  lead grid_team\n  grade yellow when repeats(7d) >= 1\n  grade blue\n}",
    ));
    let units = p.units_of("G1");
    let mut history = whistle_engine::windows::RepeatIndex::for_policy(&p);
    let mut open_one = |id: &str, at: &str| {
        let ev = parse_event(&format!(
            r#"{{"id":"{id}","category":"litter","grid":"G1","location":"gate 3","reported_at":"{at}"}}"#
        ))
        .unwrap();
        let d = decide(
            &p,
            &ev,
            &Context {
                history: &history,
                reopened: 0,
            },
        );
        history.record(&ev, units);
        Case::open(&p, ev, &d, t(0), &history).0
    };
    let mut first = open_one("N1", "2025-06-03T10:00:00+08:00");
    let second = open_one("N2", "2025-06-03T10:00:10+08:00");
    assert_eq!(
        (first.grade.as_str(), second.grade.as_str()),
        ("blue", "yellow")
    );
    // Nothing changed in the policy: nothing changes in the case.
    assert!(redecide(&p, &mut first, t(20), &history).is_empty());
    assert_eq!(first.grade, "blue");
    // Reopened, it is graded as when it came: N1 had no earlier event.
    act(&p, &mut first, Action::Accept { by: None }, 21);
    act(&p, &mut first, Action::Resolve { note: None }, 22);
    let mut reopened = first.clone();
    apply(
        &p,
        &mut reopened,
        Action::Reopen { reason: None },
        t(23),
        &history,
    )
    .unwrap();
    assert_eq!(reopened.grade, "blue");
}

/// A new lead that assisted before leaves the assisting departments, and
/// the history says what they were before it left.
#[test]
fn a_redecided_assist_says_what_the_case_held_before() {
    let old = policy();
    // Red: fire assists.
    let (mut c, _) = open(&old, "lamp", r#"{"trapped": 1}"#);
    assert_eq!(c.assist, ["fire"]);
    let new = policy_with(&BASE.replace(
        "category lamp {\n  lead urban\n  assist fire when grade >= yellow",
        "category lamp {\n  lead fire\n  assist urban when grade >= yellow",
    ));
    let ts = redecide(&new, &mut c, t(1), &NoHistory);
    let Change::Redecided { changes, .. } = &ts[0].change else {
        panic!("a redecision: {:?}", ts[0]);
    };
    let assist: Vec<(&str, &str)> = changes
        .iter()
        .filter(|x| x.field.as_str() == "assist")
        .map(|x| (x.before.as_str(), x.after.as_str()))
        .collect();
    assert_eq!(assist, [("fire", "urban")], "{changes:?}");
    assert_eq!(c.lead.as_str(), "fire");
    assert_eq!(c.assist, ["urban"]);
}

#[test]
fn redeciding_follows_the_new_lists_and_keeps_what_fired() {
    let old = policy();
    let (mut c, _) = open(&old, "lamp", "{}");
    // The first step (at 50% respond = 5 s) fires under the old policy.
    assert_eq!(kinds(&act(&old, &mut c, Action::Tick, 5))[0], "step_fired");
    let new_text = BASE
        .replace(
            "category lamp {\n  lead urban",
            "category lamp {\n  lead police",
        )
        .replace(
            "grade blue   { level grid      respond 10s resolve 30s }",
            "grade blue   { level grid      respond 20s resolve 90s }",
        );
    let new = policy_with(&new_text);
    let ts = redecide(&new, &mut c, t(6), &NoHistory);
    assert_eq!(kinds(&ts), ["redecided"]);
    let Change::Redecided {
        changes, policy, ..
    } = &ts[0].change
    else {
        panic!("a redecision: {:?}", ts[0]);
    };
    assert_eq!(&**policy, &*new.hash);
    let fields: Vec<(&str, &str, &str)> = changes
        .iter()
        .map(|x| (x.field.as_str(), x.before.as_str(), x.after.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("lead", "urban", "police"),
            (
                "respond_by",
                "2025-06-03T10:00:10+08:00",
                "2025-06-03T10:00:20+08:00"
            ),
            (
                "resolve_by",
                "2025-06-03T10:00:30+08:00",
                "2025-06-03T10:01:30+08:00"
            ),
        ]
    );
    assert_eq!(c.lead, "police");
    assert_eq!(c.state, State::Dispatched);
    // The remind at 50% fired under the old plan and stays fired; the
    // raise at 100% respond is now due at 20 s, not 10 s.
    assert_eq!(c.steps[0].status, StepStatus::Fired);
    assert!(act(&new, &mut c, Action::Tick, 15).is_empty());
    assert!(kinds(&act(&new, &mut c, Action::Tick, 20)).contains(&"raised"));
    // Deciding again under the same policy changes nothing.
    assert!(redecide(&new, &mut c, t(21), &NoHistory).is_empty());
    // Raised now: a version that changes nothing of it is only adopted
    // (the raise's level is no news), and one that changes its lead says
    // the lead was kept, and nothing of the level.
    let same = policy_with(&format!("# v2\n{new_text}"));
    let mut raised = c.clone();
    assert_eq!(
        kinds(&redecide(&same, &mut raised, t(22), &NoHistory)),
        ["policy_adopted"]
    );
    let other_lead = policy_with(&new_text.replace(
        "category lamp {\n  lead police",
        "category lamp {\n  lead fire",
    ));
    let ts = redecide(&other_lead, &mut c, t(22), &NoHistory);
    let Change::Redecided { kept, .. } = &ts[0].change else {
        panic!("a redecision: {ts:?}");
    };
    let kept: Vec<_> = kept.iter().map(|k| k.field.as_str()).collect();
    assert_eq!(kept, ["lead"]);
    assert_eq!(c.lead, "police");
}

#[test]
fn redeciding_leaves_a_reassigned_handler_and_a_closed_case_alone() {
    let old = policy();
    let (mut c, _) = open(&old, "lamp", "{}");
    act(
        &old,
        &mut c,
        Action::Reassign {
            unit: None,
            lead: Some("fire".into()),
        },
        1,
    );
    let new = policy_with(&BASE.replace(
        "category lamp {\n  lead urban",
        "category lamp {\n  lead police",
    ));
    let ts = redecide(&new, &mut c, t(2), &NoHistory);
    // The person's choice of lead stands, and the redecision says what
    // the policy would have made it.
    assert_eq!(kinds(&ts), ["redecided"]);
    assert_eq!(c.lead, "fire");
    let Change::Redecided { changes, kept, .. } = &ts[0].change else {
        panic!("a redecision");
    };
    assert!(changes.is_empty(), "{changes:?}");
    let kept: Vec<_> = kept
        .iter()
        .map(|k| (k.field.as_str(), k.before.as_str(), k.after.as_str()))
        .collect();
    assert_eq!(kept, [("lead", "fire", "police")]);
    // Asked again under the same policy: nothing new to say.
    assert!(redecide(&new, &mut c, t(3), &NoHistory).is_empty());
    // A policy that changes nothing this case reads: the case only adopts it.
    let other = policy_with(&BASE.replace("category lamp {", "# a comment\ncategory lamp {"));
    let (mut fresh, _) = open(&old, "lamp", "{}");
    assert_ne!(other.hash, old.hash);
    assert_eq!(
        kinds(&redecide(&other, &mut fresh, t(2), &NoHistory)),
        ["policy_adopted"]
    );

    let (mut closed, _) = open(&old, "lamp", "{}");
    act(&old, &mut closed, accept(), 1);
    act(&old, &mut closed, resolve(), 2);
    act(&old, &mut closed, feedback(5), 3);
    let before = closed.clone();
    assert!(redecide(&new, &mut closed, t(4), &NoHistory).is_empty());
    assert_eq!(closed, before);
}

/// Opening without a log gives the same case, and of the transitions only
/// what the ladder did at opening: here a whistle (`when attr.loud`) and,
/// opened late, the steps already due. The steps written into the buffer
/// of the case before are the same too.
#[test]
fn opening_unlogged_gives_the_same_case_and_the_ladders_transitions() {
    let p = policy();
    let mut seen_ladder = 0;
    let mut recycled: Option<Vec<whistle_engine::lifecycle::StepState>> = None;
    for attr in ["{}", r#"{"loud": true}"#, r#"{"trapped": 1}"#] {
        for late in [0, 6, 15, 45] {
            let ev = event("lamp", "G1", attr);
            let d = decide(&p, &ev, &Context::default());
            let (a, logged) = Case::open(&p, ev.clone(), &d, t(late), &NoHistory);
            let mut unlogged = Vec::new();
            let b = Case::open_unlogged_into(
                &p,
                ev,
                &d,
                t(late),
                &NoHistory,
                &mut unlogged,
                recycled.take().unwrap_or_default(),
            );
            assert_eq!(a, b, "{attr} at {late}");
            assert_eq!(kinds(&logged[..2]), ["reported", "dispatched"]);
            assert_eq!(logged[2..], unlogged[..], "{attr} at {late}");
            seen_ladder += unlogged.len();
            recycled = Some(b.steps);
        }
    }
    assert!(seen_ladder > 0, "no opening fired anything");
}

/// A case keeps, as it changes, an instant before which nothing of its
/// ladder is due, so that most actions and wake-ups do not read its
/// steps. Over random lives (ticks, acceptances, whistles and their
/// acknowledgements, reassignments, reopens, redecisions) a case that
/// keeps it must do exactly what the same case read back from JSON
/// before every action does (which keeps none), and its wake-up must
/// never come after what is due.
#[test]
fn a_case_knows_when_nothing_is_due_without_changing_what_happens() {
    let p = policy();
    let longer = policy_with(&BASE.replace("respond 10s resolve 30s", "respond 15s resolve 50s"));
    let shorter = policy_with(&BASE.replace("respond 10s resolve 30s", "respond 4s resolve 12s"));
    let mut rand = common::below(0x2545_f491_4f6c_dd1d);
    let (mut fired, mut skipped_reads, mut actions) = (0, 0, 0);
    for life in 0..300 {
        let cat = ["lamp", "litter", "tax"][life % 3];
        let attr = if life % 4 == 0 {
            r#"{"loud":true}"#
        } else {
            "{}"
        };
        let (mut kept, _) = open(&p, cat, attr);
        let mut at = 0;
        for _ in 0..25 {
            at += rand(12) as i64;
            let now = t(at);
            let fresh: Case = serde_json::from_str(&serde_json::to_string(&kept).unwrap()).unwrap();
            let exact = fresh.next_due();
            let wake = kept.wake_at(now);
            assert!(
                exact.is_none_or(|d| wake.is_some_and(|w| w <= d.max(now))),
                "life {life} at {at}: wakes at {wake:?}, {exact:?} is due"
            );
            if wake.is_some_and(|w| w > now) && exact.is_some_and(|d| d > now) {
                skipped_reads += 1;
            }
            let action = match rand(9) {
                0 | 1 => Action::Tick,
                2 => accept(),
                3 => resolve(),
                4 => whistle(&[["police", "fire", "civil"][rand(3) as usize]]),
                5 => ack(["police", "fire", "civil"][rand(3) as usize]),
                6 => reopen(),
                7 => feedback(1 + rand(5) as u8),
                _ => {
                    let other = [&longer, &shorter, &p][rand(3) as usize];
                    let a = redecide(other, &mut kept, now, &NoHistory);
                    let mut fresh = fresh;
                    let b = redecide(other, &mut fresh, now, &NoHistory);
                    assert_eq!(a, b);
                    assert_eq!(kept, fresh);
                    continue;
                }
            };
            let mut fresh = fresh;
            let a = apply(&p, &mut kept, action.clone(), now, &NoHistory);
            let b = apply(&p, &mut fresh, action, now, &NoHistory);
            assert_eq!(a, b, "life {life} at {at}");
            assert_eq!(kept, fresh, "life {life} at {at}");
            if let Ok(ts) = a {
                actions += 1;
                fired += ts.iter().filter(|t| t.kind() == "step_fired").count();
            }
        }
    }
    assert!(actions > 2_000, "{actions} actions");
    assert!(fired > 300, "{fired} steps fired");
    assert!(skipped_reads > 500, "{skipped_reads} wake-ups known early");
}

/// A case takes the policy's names as lasting ones: opening and dropping
/// ten million cases writes no reference count (see `Name::lasting`).
#[test]
fn a_case_holds_the_policy_names_as_lasting_ones() {
    let p = policy();
    let (c, _) = open(&p, "lamp", r#"{"trapped":1}"#);
    let names = [
        &c.policy,
        &c.grade,
        &c.level,
        &c.lead,
        &c.first.level,
        &c.first.lead,
    ]
    .into_iter()
    .chain(c.unit.iter())
    .chain(c.assist.iter())
    .chain(c.steps.iter().map(|s| &s.label));
    let names: Vec<_> = names.collect();
    assert!(names.len() >= 9, "{names:?}");
    for n in names {
        assert!(n.is_lasting(), "{n}");
    }
    assert_eq!(c.grade, "red");
    // Read back from a store, the same case is equal to it.
    let back: Case = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    assert!(!back.grade.is_lasting());
}

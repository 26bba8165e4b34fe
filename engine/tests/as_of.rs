//! `Case::as_of`: a case rebuilt from its transitions at an earlier instant
//! is the case as it stood then, for everything an assessment reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::Timestamp;
use proptest::prelude::*;
use whistle_engine::event::{Event, parse_event};
use whistle_engine::lifecycle::{Action, Case, Transition, apply, redecide};
use whistle_engine::windows::NoHistory;
use whistle_engine::{Context, Policy, compile_texts, decide};

const POLICY: &str = r#"
policy "as-of" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street < district
department urban "城管" { level street }
department police "派出所" { level street }
department grid_team "网格" { level grid }
department command "综治中心" { level district }
grades blue < yellow < red
grade blue   { level grid      respond 10s resolve 30s }
grade yellow { level community respond 20s resolve 60s }
grade red    { level street    respond 10s resolve 40s }
fallback { lead command grade blue }
category lamp {
  lead urban
  grade red when attr.trapped > 0
  grade yellow when reopened >= 1
  grade blue
}
escalate {
  at 50% respond -> remind
  at 100% respond -> raise 1
  at 100% resolve -> raise to district
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

fn policy(text: &str) -> Policy {
    compile_texts(&[("p.whistle", text), ("areas.yaml", AREAS)]).unwrap_or_else(|e| panic!("{e}"))
}

/// 2025-06-03T10:00:00+08:00 plus `s` seconds.
fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_748_916_000 + s).unwrap()
}

fn event(attr: &str) -> Event {
    parse_event(&format!(
        r#"{{"id":"E1","category":"lamp","grid":"G1","source":"hotline",
            "reported_at":"2025-06-03T10:00:00+08:00","attr":{attr}}}"#
    ))
    .unwrap()
}

fn open(p: &Policy, attr: &str) -> (Case, Vec<Transition>) {
    let ev = event(attr);
    let d = decide(p, &ev, &Context::default());
    Case::open(p, ev, &d, t(0), &NoHistory)
}

/// What an assessment reads of a case at `at`, side by side.
fn seen(c: &Case, at: Timestamp) -> String {
    format!(
        "{:?} | state {:?} grade {} level {} unit {:?} lead {} respond_by {} resolve_by {}",
        c.facts(at),
        c.state,
        c.grade,
        c.level,
        c.unit,
        c.lead,
        c.respond_by,
        c.resolve_by
    )
}

fn action(kind: u8, arg: u8) -> Action {
    match kind {
        0 => Action::Tick,
        1 => Action::Accept { by: None },
        2 => Action::Resolve { note: None },
        3 => Action::Feedback {
            rating: 1 + arg % 5,
            comment: None,
        },
        4 => Action::Reopen { reason: None },
        5 => Action::Reassign {
            unit: arg.is_multiple_of(2).then(|| "C0102".to_string()),
            lead: Some(["police", "urban", "grid_team"][usize::from(arg % 3)].to_string()),
        },
        _ => Action::Whistle {
            departments: vec!["police".into()],
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any history: at every instant, the case rebuilt from all its
    /// transitions is the case as it stood then.
    #[test]
    fn rebuilt_at_any_instant_is_the_case_as_it_stood(
        trapped in any::<bool>(),
        ops in prop::collection::vec((0u8..7, any::<u8>(), 1i64..25), 1..24),
    ) {
        let p = policy(POLICY);
        let (mut case, mut history) = open(&p, if trapped { r#"{"trapped":1}"# } else { "{}" });
        let mut snaps = vec![(0i64, case.clone())];
        let mut now = 0;
        for (kind, arg, gap) in ops {
            now += gap;
            if let Ok(ts) = apply(&p, &mut case, action(kind, arg), t(now), &NoHistory) {
                history.extend(ts);
                snaps.push((now, case.clone()));
            }
        }
        for (i, (at, snap)) in snaps.iter().enumerate() {
            let next = snaps.get(i + 1).map_or(at + 100, |(n, _)| *n);
            // At the instant itself and just before the next change: in
            // between, only the clock moves (deadlines pass).
            for probe in [*at, (at + next) / 2, next - 1] {
                let probe = t(probe.max(*at));
                prop_assert_eq!(
                    seen(&case.as_of(&p, &history, probe), probe),
                    seen(snap, probe),
                    "at {} after {} transitions", probe, history.len()
                );
            }
        }
        prop_assert_eq!(seen(&case.as_of(&p, &history, t(now)), t(now)), seen(&case, t(now)));
    }
}

#[test]
fn a_raise_after_the_instant_does_not_count_then() {
    let p = policy(POLICY);
    let (mut c, mut h) = open(&p, "{}");
    // Respond limit 10 s: the 100% respond step raises to community at 10.
    h.extend(apply(&p, &mut c, Action::Tick, t(10), &NoHistory).unwrap());
    h.extend(apply(&p, &mut c, Action::Accept { by: None }, t(12), &NoHistory).unwrap());
    h.extend(
        apply(
            &p,
            &mut c,
            Action::Resolve { note: None },
            t(20),
            &NoHistory,
        )
        .unwrap(),
    );
    assert!(c.raised);
    let before = c.as_of(&p, &h, t(9)).facts(t(9));
    assert!(!before.escalated, "not raised yet at 9 s");
    assert_eq!(before.on_time_response, None, "its deadline still runs");
    assert_eq!(before.first_contact, None);
    let at_raise = c.as_of(&p, &h, t(10));
    assert!(at_raise.facts(t(10)).escalated);
    assert_eq!(at_raise.level.as_str(), "community");
    assert_eq!(at_raise.accepted_at, None);
    let after = c.as_of(&p, &h, t(30)).facts(t(30));
    assert_eq!(
        after.on_time_response,
        Some(false),
        "accepted at 12 s of 10"
    );
    assert_eq!(after.first_contact, Some(false), "raised before resolved");
    assert_eq!(after.source_resolution, Some(true), "at community level");
}

#[test]
fn a_reopen_and_a_rating_after_the_instant_are_not_seen() {
    let p = policy(POLICY);
    let (mut c, mut h) = open(&p, "{}");
    for (a, at) in [
        (Action::Accept { by: None }, 2),
        (Action::Resolve { note: None }, 5),
        (
            Action::Feedback {
                rating: 2,
                comment: None,
            },
            8,
        ),
        (Action::Reopen { reason: None }, 40),
    ] {
        h.extend(apply(&p, &mut c, a, t(at), &NoHistory).unwrap());
    }
    let mid = c.as_of(&p, &h, t(6));
    assert_eq!(mid.rating, None);
    assert_eq!(mid.resolved_at, Some(t(5)));
    let f = mid.facts(t(6));
    assert_eq!((f.satisfied, f.reopened), (None, false));
    assert_eq!(f.on_time_resolution, Some(true));
    let closed = c.as_of(&p, &h, t(39)).facts(t(39));
    assert_eq!((closed.satisfied, closed.reopened), (Some(false), false));
    let reopened = c.as_of(&p, &h, t(41));
    assert_eq!(reopened.grade.as_str(), "yellow", "decided again on reopen");
    assert_eq!(reopened.resolved_at, None);
    assert!(reopened.facts(t(41)).reopened);
}

#[test]
fn a_redecision_moves_the_lead_and_deadlines_from_its_instant() {
    let p = policy(POLICY);
    let (mut c, mut h) = open(&p, "{}");
    let q = policy(
        &POLICY
            .replace("lead urban", "lead police")
            .replace("respond 10s resolve 30s", "respond 20s resolve 50s")
            .replace(r#"version "1""#, r#"version "2""#),
    );
    h.extend(redecide(&q, &mut c, t(5), &NoHistory));
    assert_eq!(c.lead.as_str(), "police");
    let before = c.as_of(&p, &h, t(4));
    assert_eq!(before.lead.as_str(), "urban");
    assert_eq!(before.respond_by, t(10));
    let after = c.as_of(&p, &h, t(5));
    assert_eq!(after.lead.as_str(), "police");
    assert_eq!((after.respond_by, after.resolve_by), (t(20), t(50)));
    // Between the old and the new respond deadline: missed only before.
    assert_eq!(before.facts(t(15)).on_time_response, Some(false));
    assert_eq!(after.facts(t(15)).on_time_response, None);
}

#[test]
fn without_transitions_the_case_is_taken_as_it_is() {
    let p = policy(POLICY);
    let (mut c, _) = open(&p, "{}");
    apply(&p, &mut c, Action::Accept { by: None }, t(3), &NoHistory).unwrap();
    assert_eq!(seen(&c.as_of(&p, &[], t(1)), t(1)), seen(&c, t(1)));
}

/// An event uploaded after the instant it is asked about (reported in a
/// period, posted after its end) stood then as first decided: what was
/// done to it once posted (a reassignment, a reopen, an acceptance) is
/// not seen, and its deadlines then are those of its first decision.
#[test]
fn an_event_posted_after_the_instant_stood_then_as_first_decided() {
    let p = policy(POLICY);
    let ev = event("{}");
    let d = decide(&p, &ev, &Context::default());
    // Reported at 0 s, posted at 100 s; the period ended at 50 s.
    let (mut c, mut h) = Case::open(&p, ev, &d, t(100), &NoHistory);
    for (a, at) in [
        (
            Action::Reassign {
                unit: None,
                lead: Some("police".into()),
            },
            110,
        ),
        (Action::Accept { by: None }, 111),
        (Action::Resolve { note: None }, 112),
        (
            Action::Feedback {
                rating: 5,
                comment: None,
            },
            113,
        ),
        (Action::Reopen { reason: None }, 114),
    ] {
        h.extend(apply(&p, &mut c, a, t(at), &NoHistory).unwrap());
    }
    let then = c.as_of(&p, &h, t(50));
    assert_eq!(then.lead.as_str(), "urban", "the lead it was first given");
    assert_eq!(then.state, whistle_engine::lifecycle::State::Dispatched);
    assert_eq!(then.respond_by, d.respond_by);
    assert_eq!((then.reopened, then.reassigned), (0, false));
    let facts = then.facts(t(50));
    assert_eq!(
        facts.on_time_response,
        Some(false),
        "10 s respond limit, not accepted by 50 s"
    );
    assert!(facts.overdue);
}

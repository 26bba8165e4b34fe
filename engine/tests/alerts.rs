//! Threshold warnings: alerts raised and cleared at exactly the instants
//! the windows and deadlines say, for counts and for shares.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use jiff::Timestamp;
use whistle_engine::alerts::{Alert, Hint, Monitor};
use whistle_engine::event::parse_event;
use whistle_engine::lifecycle::{Action, Case, apply, redecide};
use whistle_engine::windows::NoHistory;
use whistle_engine::{Context, Policy, compile, compile_texts, decide};
use whistle_grammar::bundle::from_files;

const BASE: &str = r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street
grades blue < red
grade blue { level grid      respond 1h  resolve 10h }
grade red  { level community respond 30m resolve 5h }
department urban "城管" { level street }
department grid_team "网格站" { level grid }
department command "指挥中心" { level street }
category litter { lead grid_team  grade blue }
category lamp { lead urban  grade red when reopened >= 1  grade blue }
category noise { lead grid_team  grade blue }
fallback { lead urban grade blue }
"#;

const AREAS: &str = "districts:
  - id: D01
    streets:
      - id: S01
        communities:
          - id: C01
            name: 玉林东路社区
            grids: [G1, G2]
          - id: C02
            grids: [G3]
";

fn policy(thresholds: &str) -> Policy {
    let text = format!("{BASE}{thresholds}");
    compile_texts(&[("p.whistle", &text), ("areas.yaml", AREAS)]).unwrap_or_else(|e| panic!("{e}"))
}

const T0: i64 = 1_780_275_600; // 2026-06-01T09:00:00+08:00

/// T0 plus `min` minutes.
fn t(min: i64) -> Timestamp {
    Timestamp::from_second(T0 + min * 60).unwrap()
}

fn open_at(p: &Policy, id: &str, cat: &str, grid: &str, min: i64) -> Case {
    let at = t(min);
    let ev = parse_event(&format!(
        r#"{{"id":"{id}","category":"{cat}","grid":"{grid}","location":"L1","reported_at":"{at}"}}"#
    ))
    .unwrap();
    let d = decide(p, &ev, &Context::default());
    Case::open(p, ev, &d, at, &NoHistory).0
}

fn act(p: &Policy, c: &mut Case, a: Action, at: Timestamp) {
    apply(p, c, a, at, &NoHistory).unwrap_or_else(|r| panic!("refused: {r}"));
}

/// (raised, group, at, value) of each alert.
fn seen(alerts: &[Alert]) -> Vec<(bool, String, Timestamp, f64)> {
    alerts
        .iter()
        .map(|a| (a.raised, a.group.clone(), a.at, a.value))
        .collect()
}

const LITTER: &str = r#"
threshold litter_wave "垃圾多发" {
  metric count(category == litter) by community over 1h
  when   >= 2
  alert  street
}
"#;

#[test]
fn a_count_raises_when_it_reaches_the_bound_and_clears_as_events_leave() {
    let p = policy(LITTER);
    let mut m = Monitor::new(&p);
    let e1 = open_at(&p, "E1", "litter", "G1", 0);
    assert!(m.observe(&p, &e1, t(0)).is_empty(), "1 of 2");
    // Noise in the same community does not count; another community neither.
    let n = open_at(&p, "N1", "noise", "G2", 5);
    assert!(m.observe(&p, &n, t(5)).is_empty());
    let other = open_at(&p, "E0", "litter", "G3", 6);
    assert!(m.observe(&p, &other, t(6)).is_empty());
    let e2 = open_at(&p, "E2", "litter", "G2", 10);
    let a = m.observe(&p, &e2, t(10));
    assert_eq!(seen(&a), [(true, "C01".into(), t(10), 2.0)]);
    assert_eq!(a[0].notify, "street S01", "the street containing C01");
    assert_eq!(a[0].name.as_deref(), Some("玉林东路社区"), "areas.yaml's");
    assert_eq!(a[0].threshold.as_ref(), "litter_wave");
    assert_eq!(a[0].display.as_deref(), Some("垃圾多发"));
    assert_eq!(a[0].by.as_ref(), "community");
    assert_eq!(a[0].bound, 2.0);
    // A transition of a counted event changes nothing: raised only once.
    let mut e2b = e2.clone();
    act(&p, &mut e2b, Action::Accept { by: None }, t(20));
    assert!(m.observe(&p, &e2b, t(20)).is_empty());
    // E1 leaves the window at exactly T0 + 1h, not a nanosecond before.
    assert_eq!(m.next_due(), Some(t(60)));
    let just_before = Timestamp::from_nanosecond(t(60).as_nanosecond() - 1).unwrap();
    assert!(m.advance(&p, just_before).is_empty());
    let a = m.advance(&p, t(60));
    assert_eq!(seen(&a), [(false, "C01".into(), t(60), 1.0)]);
    assert_eq!(
        a[0].counted, 2,
        "the events of C01 in the window: E2 and N1"
    );
}

/// An event COND does not hold for counts in `counted` while it is in
/// the window, and leaves on time, although its exit moves no value (the
/// monitor queues no instant for it).
#[test]
fn events_cond_does_not_hold_for_leave_counted_on_time() {
    // Alone, the 1-hour count frees each event at its end; beside a
    // 2-hour window, the events that do not count leave it without an
    // exit of their own.
    const LONGER: &str = r#"
threshold busy "繁忙" {
  metric reopen_rate by street over 2h
  when   > 50%
  alert  street
}
"#;
    for extra in ["", LONGER] {
        leave_counted_on_time(&policy(&format!("{LITTER}{extra}")));
    }
}

fn leave_counted_on_time(p: &Policy) {
    let raised = || {
        let mut m = Monitor::new(p);
        for (id, cat, grid, min) in [
            ("N1", "noise", "G1", 0),
            ("N2", "noise", "G2", 30),
            ("L1", "litter", "G1", 65),
        ] {
            let c = open_at(p, id, cat, grid, min);
            assert!(m.observe(p, &c, t(min)).is_empty(), "{id}");
        }
        let l2 = open_at(p, "L2", "litter", "G2", 70);
        let a = m.observe(p, &l2, t(70));
        assert_eq!(seen(&a), [(true, "C01".into(), t(70), 2.0)]);
        assert_eq!(a[0].counted, 3, "N2, L1 and L2: N1 left at minute 60");
        m
    };
    // N2 leaves at minute 90: nothing flips, but the count of events drops.
    let mut m = raised();
    assert!(m.advance(p, t(95)).is_empty());
    let now = m.current(p, "litter_wave", "C01", t(95)).unwrap();
    assert_eq!((now.raised, now.value, now.counted), (true, 2.0, 2));
    // The clock jumping past N2's exit to L1's does not count N2 either.
    for mut m in [m, raised()] {
        let a = m.advance(p, t(125));
        assert_eq!(seen(&a), [(false, "C01".into(), t(125), 1.0)]);
        assert_eq!(a[0].counted, 1, "L2 alone");
    }
}

/// Every window length has its own queue of exits, past the first 64
/// too: an event leaves each window at its exact end.
#[test]
fn each_of_seventy_windows_lets_an_event_go_at_its_end() {
    let thresholds: String = (1..=70)
        .map(|k| {
            format!(
                "threshold w{k} {{ metric count(category == litter) by community over {k}m when >= 1 alert street }}\n"
            )
        })
        .collect();
    let p = policy(&thresholds);
    let mut m = Monitor::new(&p);
    let a = m.observe(&p, &open_at(&p, "E1", "litter", "G1", 0), t(0));
    assert_eq!(a.len(), 70, "each window raises");
    for k in 1..=70 {
        assert_eq!(m.next_due(), Some(t(k)), "window {k}m");
        let a = m.advance(&p, t(k));
        assert_eq!(seen(&a), [(false, "C01".into(), t(k), 0.0)], "window {k}m");
        assert_eq!(a[0].threshold.as_ref(), format!("w{k}"));
    }
    assert_eq!((m.events(), m.next_due()), (0, None), "E1 left them all");
}

/// A COND on category and source is worked out once per pair (the
/// monitor remembers it): a category seen from one source must not decide
/// it for another source, nor a source for another category.
#[test]
fn a_count_by_category_and_source_tells_each_pair_apart() {
    let p = policy(
        r#"
threshold patrol_litter "巡查垃圾" {
  metric count(category == litter and source == patrol) by community over 1h
  when   >= 2
  alert  street
}
"#,
    );
    let mut m = Monitor::new(&p);
    let open = |id: &str, cat: &str, source: &str, min: i64| {
        let at = t(min);
        let ev = parse_event(&format!(
            r#"{{"id":"{id}","category":"{cat}","grid":"G1","source":"{source}","reported_at":"{at}"}}"#
        ))
        .unwrap();
        let d = decide(&p, &ev, &Context::default());
        Case::open(&p, ev, &d, at, &NoHistory).0
    };
    let cases = [
        ("P1", "litter", "patrol", 0),
        ("C1", "litter", "citizen", 1),
        ("C2", "litter", "citizen", 2),
        ("N1", "noise", "patrol", 3),
        ("N2", "noise", "patrol", 4),
    ];
    for (id, cat, source, min) in cases {
        let c = open(id, cat, source, min);
        assert!(m.observe(&p, &c, t(min)).is_empty(), "{id} does not make 2");
    }
    let p2 = open("P2", "litter", "patrol", 5);
    let a = m.observe(&p, &p2, t(5));
    assert_eq!(seen(&a), [(true, "C01".into(), t(5), 2.0)]);
    assert_eq!(a[0].counted, 6, "every event of C01 in the window");
}

/// A hint is only a shortcut: one left by an event that has since left
/// its window, its place now taken by another event, must not move that
/// other event's count. A monitor kept by hints alone (no index of ids)
/// must see the same.
#[test]
fn a_stale_hint_is_noticed() {
    let p = policy(LITTER);
    for mut hinted in [Monitor::new(&p), Monitor::with_hints(&p)] {
        let mut plain = Monitor::new(&p);
        let (mut h1, mut h2, mut h3) = (Hint::default(), Hint::default(), Hint::default());
        let mut both = |case: &Case, at: Timestamp, hint: &mut Hint| {
            let a = hinted.observe_with(&p, case, at, hint);
            assert_eq!(seen(&a), seen(&plain.observe(&p, case, at)));
            (a, hinted.events())
        };
        let mut e1 = open_at(&p, "E1", "litter", "G3", 0);
        assert!(both(&e1, t(0), &mut h1).0.is_empty());
        // E1 leaves its window; E2, in another community, takes its place.
        let e2 = open_at(&p, "E2", "litter", "G1", 61);
        assert!(both(&e2, t(61), &mut h2).0.is_empty());
        assert_eq!(h1.place(), h2.place(), "E2 reuses the place E1 had");
        assert_ne!(h1, h2, "a generation later");
        // E1 changes later: the hint points at E2 now, and must be ignored.
        act(&p, &mut e1, Action::Accept { by: None }, t(62));
        let (a, n) = both(&e1, t(62), &mut h1);
        assert!(a.is_empty());
        assert_eq!(n, 1, "E1 is not taken in again");
        assert_eq!(h1, Hint::default(), "E1 is outside every window");
        // E2 still counts in C01: with E3 there are two.
        let e3 = open_at(&p, "E3", "litter", "G2", 63);
        let (a, n) = both(&e3, t(63), &mut h3);
        assert_eq!(seen(&a), [(true, "C01".into(), t(63), 2.0)]);
        assert_eq!(n, 2);
    }
}

/// A monitor kept by hints never looks an id up, so two events that share
/// one (a replayed log can hold such) are two events.
#[test]
fn a_monitor_kept_by_hints_tells_events_of_one_id_apart() {
    let p = policy(LITTER);
    let mut m = Monitor::with_hints(&p);
    let (mut a, mut b) = (Hint::default(), Hint::default());
    let first = open_at(&p, "SAME", "litter", "G1", 0);
    let second = open_at(&p, "SAME", "litter", "G2", 1);
    assert!(m.observe_with(&p, &first, t(0), &mut a).is_empty());
    let raised = m.observe_with(&p, &second, t(1), &mut b);
    assert_eq!(seen(&raised), [(true, "C01".into(), t(1), 2.0)]);
    assert_ne!(a.place(), b.place());
    assert_eq!(m.events(), 2);
}

#[test]
fn instants_do_not_depend_on_how_often_the_clock_is_advanced() {
    let p = policy(LITTER);
    let run = |step: Option<i64>| {
        let mut m = Monitor::new(&p);
        let mut all = Vec::new();
        let mut clock = 0;
        for (i, at) in [0, 10, 65, 70, 80, 200, 230].into_iter().enumerate() {
            if let Some(step) = step {
                while clock + step < at {
                    clock += step;
                    all.extend(m.advance(&p, t(clock)));
                }
            }
            let e = open_at(&p, &format!("E{i}"), "litter", "G1", at);
            all.extend(m.observe(&p, &e, t(at)));
            clock = at;
        }
        all.extend(m.advance(&p, t(1000)));
        seen(&all)
    };
    let lazy = run(None);
    assert_eq!(lazy, run(Some(1)));
    assert_eq!(lazy, run(Some(7)));
    // By hand (all in C01, window 1h, bound 2): 2 at +10 (raise); E0
    // leaves at +60 (1: clear); E2 at +65 (2: raise); at +70 E1 leaves
    // first (1: clear), then E3 is seen (2: raise); E4 at +80 makes 3;
    // exits at +125, +130 (1: clear), +140; E5 at +200 (1), E6 at +230
    // (2: raise); E5 leaves at +260 (1: clear).
    let want: Vec<(bool, String, Timestamp, f64)> = [
        (true, 10, 2.0),
        (false, 60, 1.0),
        (true, 65, 2.0),
        (false, 70, 1.0),
        (true, 70, 2.0),
        (false, 130, 1.0),
        (true, 230, 2.0),
        (false, 260, 1.0),
    ]
    .into_iter()
    .map(|(r, at, v)| (r, "C01".to_string(), t(at), v))
    .collect();
    assert_eq!(lazy, want);
}

const OVERDUE: &str = r#"
threshold late "超时" {
  metric overdue_rate by department over 1d
  when   > 50%
  alert  command
}
"#;

#[test]
fn a_share_moves_when_a_deadline_passes() {
    let p = policy(OVERDUE);
    let mut m = Monitor::new(&p);
    let mut e1 = open_at(&p, "E1", "litter", "G1", 0);
    assert!(m.observe(&p, &e1, t(0)).is_empty(), "0 of 1 overdue");
    // The respond deadline is T0 + 1h; it passes the first nanosecond after.
    let passed = Timestamp::from_nanosecond(t(60).as_nanosecond() + 1).unwrap();
    assert_eq!(m.next_due(), Some(passed));
    assert!(
        m.advance(&p, t(60)).is_empty(),
        "at the deadline: still in time"
    );
    let a = m.advance(&p, passed);
    assert_eq!(seen(&a), [(true, "grid_team".into(), passed, 1.0)]);
    assert_eq!(a[0].notify, "department command");
    assert_eq!(a[0].name.as_deref(), Some("网格站"));
    // A late acceptance keeps it overdue.
    act(&p, &mut e1, Action::Accept { by: None }, t(120));
    assert!(m.observe(&p, &e1, t(120)).is_empty());
    // A second event: 1 of 2 is not over 50%.
    let mut e2 = open_at(&p, "E2", "litter", "G2", 180);
    let a = m.observe(&p, &e2, t(180));
    assert_eq!(seen(&a), [(false, "grid_team".into(), t(180), 0.5)]);
    assert_eq!(a[0].counted, 2);
    // Accepted exactly at its deadline: on time, nothing passes.
    act(&p, &mut e2, Action::Accept { by: None }, t(240));
    assert!(m.observe(&p, &e2, t(240)).is_empty());
    // Its resolve deadline (+10h from +3h) then passes unresolved.
    let a = m.advance(&p, t(14 * 60));
    let at = Timestamp::from_nanosecond(t(13 * 60).as_nanosecond() + 1).unwrap();
    assert_eq!(seen(&a), [(true, "grid_team".into(), at, 1.0)]);
    // E1 leaves the 1-day window; E2 alone is still overdue.
    assert!(m.advance(&p, t(24 * 60)).is_empty());
    // E2 leaves too: no event, no value: the alert clears.
    let a = m.advance(&p, t(27 * 60));
    assert_eq!(seen(&a), [(false, "grid_team".into(), t(27 * 60), 0.0)]);
    assert_eq!(a[0].counted, 0);
    assert_eq!(m.events(), 0, "nothing outside the window is kept");
    assert_eq!(m.next_due(), None);
}

#[test]
fn a_reopened_event_is_on_time_until_its_new_deadline_passes() {
    let p = policy(OVERDUE);
    let mut m = Monitor::new(&p);
    let mut e1 = open_at(&p, "E1", "litter", "G1", 0);
    m.observe(&p, &e1, t(0));
    act(&p, &mut e1, Action::Accept { by: None }, t(10));
    act(&p, &mut e1, Action::Resolve { note: None }, t(20));
    assert!(m.observe(&p, &e1, t(20)).is_empty());
    // Reopened at +30 min: blue again, accept within 1 h. The first round
    // was on time, and it stays so while the new round may still be.
    act(&p, &mut e1, Action::Reopen { reason: None }, t(30));
    assert!(m.observe(&p, &e1, t(30)).is_empty());
    let passed = Timestamp::from_nanosecond(t(90).as_nanosecond() + 1).unwrap();
    assert_eq!(
        m.next_due(),
        Some(passed),
        "the new round's deadline is queued"
    );
    // It passes unmet: overdue from then, with no other observation.
    let a = m.advance(&p, t(120));
    assert_eq!(seen(&a), [(true, "grid_team".into(), passed, 1.0)]);
    assert_eq!(e1.facts(t(120)).on_time_response, Some(false));
}

#[test]
fn a_group_the_tree_does_not_place_notifies_the_only_unit_above() {
    let p = policy(
        r#"
threshold busy { metric count() by community over 1d  when >= 1  alert street }
"#,
    );
    let mut m = Monitor::new(&p);
    let e = open_at(&p, "E1", "litter", "NOWHERE", 0);
    let a = m.observe(&p, &e, t(0));
    assert_eq!(a[0].group, "unknown");
    assert_eq!(a[0].notify, "street S01", "the tree's only street");
}

#[test]
fn a_reassignment_moves_the_event_between_groups_at_one_instant() {
    let p = policy(
        r#"
threshold busy { metric count() by department over 1d  when >= 1  alert street }
"#,
    );
    let mut m = Monitor::new(&p);
    let mut e = open_at(&p, "E1", "litter", "G1", 0);
    let a = m.observe(&p, &e, t(0));
    assert_eq!(seen(&a), [(true, "grid_team".into(), t(0), 1.0)]);
    assert_eq!(a[0].notify, "street S01", "the tree's only street");
    act(
        &p,
        &mut e,
        Action::Reassign {
            unit: None,
            lead: Some("urban".into()),
        },
        t(5),
    );
    let a = m.observe(&p, &e, t(5));
    assert_eq!(
        seen(&a),
        [
            (false, "grid_team".into(), t(5), 0.0),
            (true, "urban".into(), t(5), 1.0)
        ]
    );
}

#[test]
fn a_condition_on_the_grade_is_evaluated_again_after_a_reopen() {
    let p = policy(
        r#"
threshold reds { metric count(grade == red) by street over 1d  when >= 1  alert street }
"#,
    );
    let mut m = Monitor::new(&p);
    let mut e = open_at(&p, "E1", "lamp", "G3", 0);
    assert!(m.observe(&p, &e, t(0)).is_empty(), "blue at first");
    act(&p, &mut e, Action::Accept { by: None }, t(10));
    act(&p, &mut e, Action::Resolve { note: None }, t(20));
    assert!(m.observe(&p, &e, t(20)).is_empty());
    act(&p, &mut e, Action::Reopen { reason: None }, t(30));
    assert_eq!(e.grade, "red");
    let a = m.observe(&p, &e, t(30));
    assert_eq!(seen(&a), [(true, "S01".into(), t(30), 1.0)]);
}

#[test]
fn repeats_in_a_condition_count_earlier_events_only() {
    let p = policy(
        r#"
threshold again { metric count(repeats(1d) >= 1) by grid over 1d  when >= 1  alert community }
"#,
    );
    let mut m = Monitor::new(&p);
    let e1 = open_at(&p, "E1", "noise", "G1", 0);
    assert!(m.observe(&p, &e1, t(0)).is_empty(), "nothing before it");
    let mut e2 = open_at(&p, "E2", "noise", "G1", 10);
    let a = m.observe(&p, &e2, t(10));
    assert_eq!(seen(&a), [(true, "G1".into(), t(10), 1.0)]);
    assert_eq!(a[0].notify, "community C01");
    // Observed again, E2 still sees one earlier event (not itself), and
    // E1 does not start seeing E2 (reported after it).
    act(&p, &mut e2, Action::Accept { by: None }, t(20));
    assert!(m.observe(&p, &e2, t(20)).is_empty());
    assert!(m.observe(&p, &e1, t(21)).is_empty());
}

#[test]
fn old_and_late_events() {
    let p = policy(LITTER);
    let mut m = Monitor::new(&p);
    // An event reported two hours before it is seen is outside the window.
    let old = open_at(&p, "OLD", "litter", "G1", 0);
    assert!(m.observe(&p, &old, t(120)).is_empty());
    assert_eq!(m.events(), 0);
    // A late one still inside counts, and leaves at its own report + 1h.
    let late = open_at(&p, "L1", "litter", "G1", 100);
    assert!(m.observe(&p, &late, t(130)).is_empty());
    let now = open_at(&p, "L2", "litter", "G2", 130);
    let a = m.observe(&p, &now, t(130));
    assert_eq!(seen(&a), [(true, "C01".into(), t(130), 2.0)]);
    let a = m.advance(&p, t(200));
    assert_eq!(seen(&a), [(false, "C01".into(), t(160), 1.0)]);
    // The clock never goes back: an observe in the past is taken at the
    // latest instant seen (+200): P1 alone is 1, P2 makes 2.
    let p1 = open_at(&p, "P1", "litter", "G1", 180);
    assert!(m.observe(&p, &p1, t(150)).is_empty());
    let p2 = open_at(&p, "P2", "litter", "G1", 190);
    let a = m.observe(&p, &p2, t(100));
    assert_eq!(seen(&a), [(true, "C01".into(), t(200), 2.0)]);
}

#[test]
fn the_shipped_policy_runs_a_day() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
    let files = whistle_grammar::bundle::read_dir(&dir).unwrap();
    let p = compile(&from_files(files)).policy.unwrap();
    assert_eq!(p.thresholds.len(), 6);
    let mut m = Monitor::new(&p);
    let mut raised = Vec::new();
    // Three neighbour disputes in one grid within 7 days: dispute_hotspot.
    for i in 0..3 {
        let e = open_at(&p, &format!("N{i}"), "neighbour_noise", "G010101", i * 60);
        raised.extend(m.observe(&p, &e, t(i * 60)));
    }
    let hot: Vec<_> = raised
        .iter()
        .filter(|a| &*a.threshold == "dispute_hotspot")
        .collect();
    assert_eq!(hot.len(), 1);
    assert_eq!(hot[0].group, "G010101");
    assert_eq!(hot[0].notify, "community C0101");
    assert_eq!(hot[0].at, t(120));
    let json = serde_json::to_value(hot[0]).unwrap();
    assert_eq!(json["threshold"], "dispute_hotspot");
    assert_eq!(json["raised"], true);
}

/// Everything seen at one instant is taken in before a group is compared
/// with its bound: a batch whose overdue event comes first raises and
/// clears nothing, and a raise reports the value after the whole batch.
#[test]
fn observations_at_one_instant_are_netted() {
    let p = policy(
        r#"
threshold late "超时" {
  metric overdue_rate by street over 1d
  when   > 10%
  alert  street
}
"#,
    );
    let now = t(120);
    let batch = |overdue: usize| {
        let mut m = Monitor::new(&p);
        let mut alerts = Vec::new();
        // Opened two hours ago, never accepted: past its 1h respond limit.
        for i in 0..overdue {
            let c = open_at(&p, &format!("old{i}"), "litter", "G1", 0);
            alerts.extend(m.observe(&p, &c, now));
        }
        for i in overdue..10 {
            let c = open_at(&p, &format!("new{i}"), "litter", "G1", 120);
            alerts.extend(m.observe(&p, &c, now));
        }
        (m.settle(&p, alerts.clone(), now), alerts)
    };
    // One of ten overdue is 10%, not above it: raised by the first alone
    // and cleared by the rest, so nothing at all.
    let (settled, raw) = batch(1);
    assert_eq!(raw.len(), 2, "{:?}", seen(&raw));
    assert!(settled.is_empty(), "{:?}", seen(&settled));
    // Two of ten: one raise, with the value after the batch.
    let (settled, _) = batch(2);
    assert_eq!(seen(&settled), [(true, "S01".to_string(), now, 0.2)]);
    assert_eq!(settled[0].counted, 10);
}

/// A monitor that finds events by id (the server's) knows an event while
/// it is in some window, forgets it when it left them all, and finds the
/// event that took its place by that event's own id: a later change of it
/// moves its group, and no second place is taken for it.
#[test]
fn events_are_found_by_id_while_held_and_forgotten_after() {
    let p = policy(
        "threshold busy { metric count(category == litter) by community over 60m when >= 1 alert street }\n",
    );
    let mut m = Monitor::new(&p);
    let e1 = open_at(&p, "E1", "litter", "G1", 0);
    m.observe(&p, &e1, t(0));
    assert!(m.knows("E1") && !m.knows("E2"));
    m.advance(&p, t(61));
    assert_eq!(m.events(), 0);
    assert!(!m.knows("E1"), "E1 left its window");
    let mut e2 = open_at(&p, "E2", "litter", "G3", 70);
    let a = m.observe(&p, &e2, t(70));
    assert_eq!(seen(&a), [(true, "C02".into(), t(70), 1.0)]);
    assert!(m.knows("E2") && !m.knows("E1"));
    // Seen again by id: the same event, not a second one.
    apply(&p, &mut e2, Action::Accept { by: None }, t(71), &NoHistory).unwrap();
    assert!(m.observe(&p, &e2, t(71)).is_empty());
    assert_eq!(m.events(), 1);
    // E1 seen again after it left: outside every window, not taken in.
    m.observe(&p, &e1, t(72));
    assert_eq!(m.events(), 1);
    assert!(!m.knows("E1"));
}

/// `count` alone is the built-in metric of LANGUAGE.md section 6: every
/// event of the group, as `count()`.
#[test]
fn the_count_metric_may_be_written_without_parentheses() {
    for metric in ["count", "count()"] {
        let p = policy(&format!(
            "threshold busy {{ metric {metric} by community over 60m when >= 2 alert street }}\n"
        ));
        let mut m = Monitor::new(&p);
        assert!(
            m.observe(&p, &open_at(&p, "E1", "litter", "G1", 0), t(0))
                .is_empty()
        );
        let a = m.observe(&p, &open_at(&p, "E2", "noise", "G2", 1), t(1));
        assert_eq!(seen(&a), [(true, "C01".into(), t(1), 2.0)], "{metric}");
    }
}

/// A redecision that moves a pending deadline: the deadline queued before
/// no longer passes; the new one does, once.
#[test]
fn a_deadline_moved_by_a_redecision_passes_at_its_new_instant() {
    let p = policy(OVERDUE);
    let longer = {
        let text = format!("{BASE}{OVERDUE}")
            .replace("respond 1h  resolve 10h", "respond 3h  resolve 10h");
        compile_texts(&[("p.whistle", &text), ("areas.yaml", AREAS)]).unwrap()
    };
    for mut m in [Monitor::new(&p), Monitor::with_hints(&p)] {
        let mut hint = Hint::default();
        let mut e1 = open_at(&p, "E1", "litter", "G1", 0);
        assert!(m.observe_with(&p, &e1, t(0), &mut hint).is_empty());
        assert!(!redecide(&longer, &mut e1, t(30), &NoHistory).is_empty());
        assert!(m.observe_with(&p, &e1, t(30), &mut hint).is_empty());
        assert!(m.advance(&p, t(120)).is_empty(), "the old deadline is gone");
        let passed = Timestamp::from_nanosecond(t(180).as_nanosecond() + 1).unwrap();
        assert_eq!(m.next_due(), Some(passed));
        let a = m.advance(&p, t(240));
        assert_eq!(seen(&a), [(true, "grid_team".into(), passed, 1.0)]);
    }
}

/// Every kind of measure at once, with deadlines short enough to pass
/// while events are handled.
const EVERY_MEASURE: &str = r#"
threshold late_dept { metric overdue_rate by department over 1d  when > 30%  alert command }
threshold late_comm { metric on_time_response by community over 12h  when < 70%  alert street }
threshold resolved_late { metric on_time_resolution by street over 1d  when < 80%  alert street }
threshold reopens { metric reopen_rate by community over 1d  when >= 20%  alert street }
threshold slow { metric mean_resolution_hours by department over 1d  when > 3  alert command }
threshold litter { metric count(category == litter) by grid over 6h  when >= 3  alert community }
threshold all { metric count by street over 2h  when >= 6  alert street }
"#;

/// A monitor kept by the caller's hints takes a change no threshold
/// measures in without reading the event's slot, from what the hint saw.
/// Over a random week of acceptances, resolutions, reopens, reassignments,
/// feedback, redecisions under longer limits (a missed deadline pending
/// again) and missed deadlines it must raise and clear exactly what a
/// monitor that finds every event by its id does.
#[test]
fn a_monitor_kept_by_hints_alerts_as_one_kept_by_ids() {
    // Hints number categories (and departments are numbered by the
    // policy): a group found by number is the one its name finds.
    let p = policy(&format!(
        "{EVERY_MEASURE}threshold kinds {{ metric count by category over 2h  when >= 4  alert street }}\n"
    ));
    let longer = {
        let text = format!("{BASE}{EVERY_MEASURE}")
            .replace("respond 1h  resolve 10h", "respond 1d  resolve 3d")
            .replace("respond 30m resolve 5h", "respond 1d  resolve 3d");
        compile_texts(&[("p.whistle", &text), ("areas.yaml", AREAS)]).unwrap()
    };
    let mut by_ids = Monitor::new(&p);
    let mut by_hints = Monitor::with_hints(&p);
    let mut rand = common::below(0x9e37_79b9_7f4a_7c15);
    let grids = ["G1", "G2", "G3"];
    let cats = ["litter", "lamp", "noise"];
    let mut cases: Vec<(Case, Hint)> = Vec::new();
    let (mut alerts, mut changes, mut redecided) = (0, 0, 0);
    for step in 0..3_000 {
        let min = step * 3;
        let now = t(min);
        let pick = rand(10);
        let (case, hint) = if pick < 3 || cases.is_empty() {
            let id = format!("E{step}");
            let grid = grids[rand(3) as usize];
            let k = rand(3);
            let cat = cats[k as usize];
            let hint = Hint::default().in_category(u32::try_from(k).ok());
            cases.push((open_at(&p, &id, cat, grid, min), hint));
            let (case, hint) = cases.last_mut().unwrap();
            (case, hint)
        } else {
            // Mostly recent events; some from days back (outside every
            // window, their hints gone stale).
            let back = if rand(8) == 0 { cases.len() } else { 40 };
            let i = cases.len() - 1 - rand(back.min(cases.len()) as u64) as usize;
            let (case, hint) = &mut cases[i];
            let action = match pick {
                9 if rand(2) == 0 => {
                    if redecide(&longer, case, now, &NoHistory).is_empty() {
                        continue;
                    }
                    redecided += 1;
                    changes += 1;
                    let a = by_hints.observe_with(&p, case, now, hint);
                    assert_eq!(seen(&a), seen(&by_ids.observe(&p, case, now)));
                    alerts += a.len();
                    continue;
                }
                3 | 4 => Action::Accept { by: None },
                5 | 6 => Action::Resolve { note: None },
                7 => Action::Reopen { reason: None },
                8 => Action::Reassign {
                    unit: None,
                    lead: Some(["urban", "grid_team", "command"][rand(3) as usize].into()),
                },
                _ => Action::Feedback {
                    rating: 1 + rand(5) as u8,
                    comment: None,
                },
            };
            if apply(&p, case, action, now, &NoHistory).is_err() {
                continue;
            }
            changes += 1;
            (case, hint)
        };
        let a = by_hints.observe_with(&p, case, now, hint);
        let b = by_ids.observe(&p, case, now);
        assert_eq!(seen(&a), seen(&b), "step {step}");
        alerts += a.len();
    }
    let end = t(3_000 * 3 + 3 * 24 * 60);
    assert_eq!(
        seen(&by_hints.advance(&p, end)),
        seen(&by_ids.advance(&p, end))
    );
    assert_eq!(by_hints.events(), 0);
    assert!(changes > 600, "{changes} changes");
    assert!(redecided > 20, "{redecided} redecided");
    assert!(alerts > 50, "only {alerts} alerts: the policy tests little");
}

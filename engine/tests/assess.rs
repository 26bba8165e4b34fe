//! Assessment: metrics per group, scores and targets on a small history
//! whose every value is computed by hand below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::Timestamp;
use whistle_engine::assess::{Period, Report, Tally, UNKNOWN_UNIT, Values};
use whistle_engine::event::parse_event;
use whistle_engine::lifecycle::{Action, Case, apply};
use whistle_engine::windows::NoHistory;
use whistle_engine::{Context, Policy, compile_texts, decide};

const POLICY: &str = r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street
grades blue < red
grade blue { level grid      respond 1h  resolve 10h }
grade red  { level community respond 30m resolve 5h }
department urban "城管执法" { level street }
department grid_team "网格站" { level grid }
category litter "垃圾" { lead grid_team  grade blue }
category lane { lead urban  grade red when attr.big == true  grade blue }
fallback { lead urban grade blue }
escalate { at 100% respond -> raise 1 }
assess department { on_time_response weight 40  satisfaction weight 30  overdue_rate weight 30 }
assess community { active_discovery weight 50  source_resolution weight 50 }
target on_time_response >= 50%
target satisfaction >= 90%
target escalation_rate <= 10%
"#;

const AREAS: &str = "districts:
  - id: D01
    streets:
      - id: S01
        name: 玉林街道
        communities:
          - id: C01
            name: 玉林东路社区
            grids: [G1, G2]
          - id: C02
            grids: [G3]
";

fn policy() -> Policy {
    compile_texts(&[("p.whistle", POLICY), ("areas.yaml", AREAS)]).unwrap_or_else(|e| panic!("{e}"))
}

/// T0 = 2026-06-01T09:00:00+08:00, plus `min` minutes.
fn t(min: i64) -> Timestamp {
    let t0: Timestamp = "2026-06-01T09:00:00+08:00".parse().unwrap();
    Timestamp::from_second(t0.as_second() + min * 60).unwrap()
}

fn open(p: &Policy, id: &str, cat: &str, grid: &str, source: &str, attr: &str) -> Case {
    let ev = parse_event(&format!(
        r#"{{"id":"{id}","category":"{cat}","grid":"{grid}","source":"{source}",
            "reported_at":"2026-06-01T09:00:00+08:00","attr":{attr}}}"#
    ))
    .unwrap();
    let d = decide(p, &ev, &Context::default());
    Case::open(p, ev, &d, t(0), &NoHistory).0
}

fn act(p: &Policy, c: &mut Case, a: Action, min: i64) {
    apply(p, c, a, t(min), &NoHistory).unwrap_or_else(|r| panic!("refused: {r}"));
}

fn accept() -> Action {
    Action::Accept { by: None }
}

fn resolve() -> Action {
    Action::Resolve { note: None }
}

/// Five events, all reported at T0:
///
/// | id | lead | grid (community) | source | what happens |
/// |---|---|---|---|---|
/// | E1 | grid_team | G1 (C01) | patrol | accepted +30m, resolved +2h at grid, rated 5 |
/// | E2 | grid_team | G2 (C01) | citizen | respond 1h missed: raised to community at +1h; accepted +2h (late), resolved +3h at community, rated 2 |
/// | E3 | urban | G3 (C02) | citizen | red (respond 30m, resolve 5h): raised at +30m, never accepted |
/// | E4 | urban | G1 (C01) | sensor | accepted +10m, resolved +1h, reopened +2h, accepted +2h10m, resolved +4h at grid |
/// | E5 | urban | G2 (C01) | hotline | accepted +20m, never resolved (resolve 10h) |
fn history(p: &Policy) -> Vec<Case> {
    let mut e1 = open(p, "E1", "litter", "G1", "patrol", "{}");
    act(p, &mut e1, accept(), 30);
    act(p, &mut e1, resolve(), 120);
    act(
        p,
        &mut e1,
        Action::Feedback {
            rating: 5,
            comment: None,
        },
        180,
    );

    let mut e2 = open(p, "E2", "litter", "G2", "citizen", "{}");
    act(p, &mut e2, accept(), 120);
    act(p, &mut e2, resolve(), 180);
    act(
        p,
        &mut e2,
        Action::Feedback {
            rating: 2,
            comment: None,
        },
        200,
    );
    assert!(
        e2.raised && e2.level == "community",
        "the +1h step raised it"
    );

    let mut e3 = open(p, "E3", "lane", "G3", "citizen", r#"{"big":true}"#);
    assert_eq!(e3.grade, "red");
    act(p, &mut e3, Action::Tick, 60);
    assert!(e3.raised);

    let mut e4 = open(p, "E4", "lane", "G1", "sensor", "{}");
    act(p, &mut e4, accept(), 10);
    act(p, &mut e4, resolve(), 60);
    act(p, &mut e4, Action::Reopen { reason: None }, 120);
    act(p, &mut e4, accept(), 130);
    act(p, &mut e4, resolve(), 240);

    let mut e5 = open(p, "E5", "lane", "G2", "hotline", "{}");
    act(p, &mut e5, accept(), 20);
    vec![e1, e2, e3, e4, e5]
}

fn add_all(p: &Policy, tally: &mut Tally, cases: &[Case], at: Timestamp) {
    for c in cases {
        tally.add(p, c, &c.facts(at));
    }
}

fn report_at(p: &Policy, cases: &[Case], at: Timestamp) -> Report {
    let mut tally = Tally::new(p);
    add_all(p, &mut tally, cases, at);
    tally.report(p)
}

fn row<'r>(r: &'r Report, by: &str, group: &str) -> &'r Values {
    &r.table(by)
        .unwrap_or_else(|| panic!("no table {by}"))
        .rows
        .iter()
        .find(|x| x.group == group)
        .unwrap_or_else(|| panic!("no group {group} in {by}"))
        .values
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn metrics_per_department_at_the_end_of_the_period() {
    let p = policy();
    let period = Period::parse("2026-06", p.calendar.time_zone()).unwrap();
    let cases = history(&p);
    let r = report_at(&p, &cases, period.facts_at(t(100_000)));

    // grid_team: E1, E2.
    let g = row(&r, "department", "grid_team");
    assert_eq!(g.count, 2);
    assert!(close(g.on_time_response, 0.5), "E1 on time, E2 late");
    assert!(close(g.on_time_resolution, 1.0), "both within 10h");
    assert!(close(g.overdue_rate, 0.5), "E2's late acceptance");
    assert!(close(g.satisfaction, 0.5), "ratings 5 and 2");
    assert!(close(g.first_contact, 0.5), "E2 was raised");
    assert!(close(g.escalation_rate, 0.5));
    assert!(close(g.reopen_rate, 0.0));
    assert!(close(g.active_discovery, 0.5), "E1 from patrol");
    assert!(close(g.source_resolution, 1.0), "grid and community");
    assert!(close(g.mean_resolution_hours, 2.5), "(2h + 3h) / 2");

    // urban: E3, E4, E5.
    let u = row(&r, "department", "urban");
    assert_eq!(u.count, 3);
    assert!(close(u.on_time_response, 2.0 / 3.0), "E3 never accepted");
    assert!(close(u.on_time_resolution, 1.0 / 3.0), "only E4");
    assert!(close(u.overdue_rate, 2.0 / 3.0), "E3 and E5");
    assert_eq!(u.satisfaction, None, "no feedback at all");
    assert!(close(u.first_contact, 1.0), "only E4 is resolved");
    assert!(close(u.escalation_rate, 1.0 / 3.0), "E3");
    assert!(close(u.reopen_rate, 1.0 / 3.0), "E4");
    assert!(close(u.active_discovery, 1.0 / 3.0), "E4 from a sensor");
    assert!(close(u.source_resolution, 1.0));
    assert!(
        close(u.mean_resolution_hours, 4.0),
        "E4: report to last resolution"
    );

    let names: Vec<_> = r
        .table("department")
        .unwrap()
        .rows
        .iter()
        .map(|x| x.name.clone())
        .collect();
    assert_eq!(names, [Some("网格站".into()), Some("城管执法".into())]);
}

#[test]
fn groups_by_every_level_and_category() {
    let p = policy();
    let cases = history(&p);
    let r = report_at(&p, &cases, t(100_000));
    assert_eq!(row(&r, "grid", "G1").count, 2, "E1, E4");
    assert_eq!(row(&r, "grid", "G2").count, 2, "E2, E5");
    assert_eq!(row(&r, "grid", "G3").count, 1, "E3");
    assert_eq!(row(&r, "community", "C01").count, 4);
    assert_eq!(row(&r, "street", "S01").count, 5);
    assert_eq!(row(&r, "category", "litter").count, 2);
    assert_eq!(row(&r, "category", "lane").count, 3);
    let by: Vec<_> = r.groups.iter().map(|g| g.by.as_str()).collect();
    assert_eq!(
        by,
        ["department", "grid", "community", "street", "category"]
    );
    let litter = r
        .table("category")
        .unwrap()
        .rows
        .iter()
        .find(|x| x.group == "litter")
        .unwrap();
    assert_eq!(litter.name.as_deref(), Some("垃圾"));
    // Units carry the names `areas.yaml` gives them, and only those.
    let name = |by: &str, id: &str| {
        r.table(by)
            .unwrap()
            .rows
            .iter()
            .find(|x| x.group == id)
            .unwrap()
            .name
            .clone()
    };
    assert_eq!(name("street", "S01").as_deref(), Some("玉林街道"));
    assert_eq!(name("community", "C01").as_deref(), Some("玉林东路社区"));
    assert_eq!(name("community", "C02"), None);
    assert_eq!(name("grid", "G1"), None);
}

#[test]
fn scores_weigh_metrics_and_rescale_missing_ones() {
    let p = policy();
    let cases = history(&p);
    let r = report_at(&p, &cases, t(100_000));
    let dept = &r.scores[0];
    assert_eq!(dept.by, "department");
    let score = |group: &str| {
        let row = dept.rows.iter().find(|x| x.group == group).unwrap();
        (row.score, row.weight_counted)
    };
    // grid_team: 40 × 0.5 + 30 × 0.5 + 30 × (1 − 0.5) = 50.
    let (s, w) = score("grid_team");
    assert!(close(s, 50.0));
    assert!((w - 100.0).abs() < 1e-9);
    // urban has no satisfaction: (40 × 2/3 + 30 × (1 − 2/3)) / 70 × 100 = 52.38…
    let (s, w) = score("urban");
    assert!(close(s, (40.0 * 2.0 / 3.0 + 30.0 / 3.0) / 70.0 * 100.0));
    assert!((w - 70.0).abs() < 1e-9);

    let comm = &r.scores[1];
    assert_eq!(comm.by, "community");
    // C01: active 2/4 (patrol, sensor), source 3/3: 50 × 0.5 + 50 × 1 = 75.
    let c01 = comm.rows.iter().find(|x| x.group == "C01").unwrap();
    assert!(close(c01.score, 75.0));
    // C02: active 0/1, nothing resolved: 0 on the 50 that count.
    let c02 = comm.rows.iter().find(|x| x.group == "C02").unwrap();
    assert!(close(c02.score, 0.0));
    assert!((c02.weight_counted - 50.0).abs() < 1e-9);
}

#[test]
fn targets_compare_district_wide_values() {
    let p = policy();
    let cases = history(&p);
    let r = report_at(&p, &cases, t(100_000));
    assert_eq!(r.district.count, 5);
    let got: Vec<(&str, Option<f64>, bool)> = r
        .targets
        .iter()
        .map(|x| (x.metric, x.value, x.met))
        .collect();
    // on time response 3/5 ≥ 50%; satisfaction 1/2 < 90%; escalation 2/5 > 10%.
    assert_eq!(got[0].0, "on_time_response");
    assert!(close(got[0].1, 0.6) && got[0].2);
    assert!(close(got[1].1, 0.5) && !got[1].2);
    assert!(close(got[2].1, 0.4) && !got[2].2);
    assert_eq!(r.targets[2].op, "<=");
}

#[test]
fn facts_are_taken_at_the_instant_given() {
    let p = policy();
    let mut e3 = open(&p, "E3", "lane", "G3", "citizen", r#"{"big":true}"#);
    let f = e3.facts(t(25));
    assert_eq!(f.on_time_response, None, "still in time");
    act(&p, &mut e3, Action::Tick, 31);
    assert_eq!(e3.facts(t(31)).on_time_response, Some(false));
    let period = Period::parse("2026-06", p.calendar.time_zone()).unwrap();
    assert_eq!(period.facts_at(t(31)), t(31), "a running period: now");
    assert_eq!(period.facts_at(t(100_000)), period.until);
}

#[test]
fn merging_tallies_gives_the_whole() {
    let p = policy();
    let cases = history(&p);
    let at = t(100_000);
    let whole = report_at(&p, &cases, at);
    let mut a = Tally::new(&p);
    let mut b = Tally::new(&p);
    for (i, c) in cases.iter().enumerate() {
        let part = if i % 2 == 0 { &mut a } else { &mut b };
        part.add(&p, c, &c.facts(at));
    }
    b.merge(&a);
    assert_eq!(b.report(&p), whole);
    assert_eq!(b.count(), 5);
}

/// Reading a tally (which spreads each grid's counts up the area tree)
/// changes nothing for the cases added after it, nor for a merge.
#[test]
fn a_tally_read_between_additions_still_counts_every_case_once() {
    let p = policy();
    let cases = history(&p);
    let at = t(100_000);
    let whole = report_at(&p, &cases, at);
    let mut t1 = Tally::new(&p);
    add_all(&p, &mut t1, &cases[..2], at);
    let early = t1.report(&p);
    assert_eq!(early, report_at(&p, &cases[..2], at));
    add_all(&p, &mut t1, &cases[2..], at);
    assert_eq!(t1.report(&p), whole);
    assert_eq!(t1.report(&p), whole, "a second read adds nothing");

    let mut t2 = Tally::new(&p);
    add_all(&p, &mut t2, &cases[..3], at);
    let mut t3 = Tally::new(&p);
    add_all(&p, &mut t3, &cases[3..], at);
    t2.merge(&t3);
    assert_eq!(t2.report(&p), whole);
    t2.merge(&Tally::new(&p));
    assert_eq!(t2.report(&p), whole, "merging an empty tally adds nothing");
}

#[test]
fn a_grid_outside_the_tree_groups_under_unknown() {
    let p = policy();
    let c = open(&p, "E9", "litter", "GX", "citizen", "{}");
    let r = report_at(&p, &[c], t(10));
    assert_eq!(row(&r, "grid", "GX").count, 1, "the grid is its own id");
    assert_eq!(row(&r, "community", UNKNOWN_UNIT).count, 1);
    assert_eq!(row(&r, "street", UNKNOWN_UNIT).count, 1);
}

#[test]
fn periods_select_by_report_time() {
    let p = policy();
    let tz = p.calendar.time_zone();
    let june = Period::parse("2026-06", tz).unwrap();
    let end: Timestamp = "2026-07-01T00:00:00+08:00".parse().unwrap();
    assert!(june.contains(t(0)));
    assert!(
        !june.contains(end),
        "the first instant of July is not June's"
    );
    assert!(june.contains(Timestamp::from_second(end.as_second() - 1).unwrap()));
    let q = Period::parse("2026-Q2", tz).unwrap();
    assert!(q.contains(t(0)));
    let err = Period::parse("2026-6", tz).unwrap_err();
    assert!(
        err.to_string()
            .contains("write the month with two digits: `06`, not `6`"),
        "{err}"
    );
    let err = Period::parse("2026-13", tz).unwrap_err();
    assert!(
        err.to_string().contains("`13` is not a month 01 to 12"),
        "{err}"
    );
}

#[test]
fn the_report_serialises_with_nulls_for_missing_values() {
    let p = policy();
    let cases = history(&p);
    let r = report_at(&p, &cases, t(100_000));
    let v = serde_json::to_value(&r).unwrap();
    let urban = v["groups"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["group"] == "urban")
        .unwrap();
    assert!(urban["satisfaction"].is_null());
    assert_eq!(urban["count"], 3);
    assert_eq!(v["targets"][1]["met"], false);
    assert_eq!(v["policy"]["version"], "1");
}

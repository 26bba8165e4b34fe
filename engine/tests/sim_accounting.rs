//! What a simulation report counts, and over which events: the period's
//! events only (after a warm-up too), ratings actually given, the work and
//! the waits still under way when the period ends, and every pool staffed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{errors, no_files, shipped, simulate};
use whistle_engine::sim::stats::PoolRow;
use whistle_engine::sim::{self, Options, Report};

/// A fortnight of the shipped district, `extra` added to the period line
/// and the arrivals, with grid handling `handling`.
fn fortnight(period: &str, arrivals: &str, handling: &str, feedback: &str) -> String {
    format!(
        r#"
period: {{from: 2026-06-01, to: 2026-06-14{period}}}
seed: 3
areas: policy
arrivals:
{arrivals}  categories:
    street_vendor: {{per_day: 200, attr: {{food: {{bernoulli: 0.3}}}}}}
    garbage_piling: {{per_day: 150}}
    gas_leak: {{per_day: 5, attr: {{gas_ppm: {{lognormal: {{median: 300, p90: 1200}}}}}}}}
capacity:
  levels:
    grid: {{handlers: 1, hours: "mon..sun 08:00-22:00", accept: {{exponential: 15m}}, handling: {handling}}}
    community: {{handlers: 1, accept: {{exponential: 15m}}}}
    street: {{handlers: 2}}
    district: {{handlers: 4}}
{feedback}"#
    )
}

fn pool<'a>(r: &'a Report, name: &str) -> &'a PoolRow {
    r.draft
        .pools
        .iter()
        .find(|p| p.pool == name)
        .unwrap_or_else(|| panic!("no pool `{name}` in {:?}", r.draft.pools))
}

/// A warm-up twenty times busier than the period: its events' outcomes
/// must not be counted against the period's events, so no share passes
/// 100% and the assessment counts the events the summary counts (those
/// reported in the period, as `whistle assess` takes a period's events).
#[test]
fn a_warm_up_counts_none_of_its_own_events_outcomes() {
    let yaml = fortnight(
        ", warmup_days: 14",
        "  monthly: [1, 1, 1, 1, 20, 0.05, 1, 1, 1, 1, 1, 1]\n",
        "{exponential: 1h}",
        "",
    );
    let r = simulate(&yaml, &shipped(), None, Options::default());
    let t = &r.draft.totals;
    assert!(t.events > 0);
    for (what, n) in [
        ("resolved", t.resolved),
        ("raised", t.raised),
        ("reopened", t.reopened),
        ("respond_missed", t.respond_missed),
        ("resolve_missed", t.resolve_missed),
        ("rated", t.rated),
        ("open_at_end", t.open_at_end),
    ] {
        assert!(n <= t.events, "{what} {n} of {} events", t.events);
    }
    for g in &r.draft.grades {
        assert!(g.raised <= g.events, "{g:?}");
        assert!(g.respond_missed <= g.events, "{g:?}");
    }
    assert_eq!(r.draft.assessment.district.count, t.events);
    // The warm-up's backlog is worked off in the period all the same.
    let served: u64 = r.draft.pools.iter().map(|p| p.served).sum();
    assert!(served > t.events, "served {served}, events {}", t.events);
}

/// Every rating is due thirty days after its resolution, after a
/// fortnight's end: none was given, so none is counted, as the
/// assessment's satisfaction (no value) says too.
#[test]
fn ratings_due_after_the_period_are_not_counted() {
    let yaml = fortnight(
        "",
        "",
        "{exponential: 1h}",
        "feedback: {share: 1, delay: {constant: 30d}}\n",
    );
    let r = simulate(&yaml, &shipped(), None, Options::default());
    assert!(r.draft.totals.resolved > 1000);
    assert_eq!(r.draft.totals.rated, 0);
    assert_eq!(r.draft.totals.satisfied, 0);
    assert_eq!(r.draft.assessment.district.satisfaction, None);
    let row = r
        .summary
        .iter()
        .find(|s| s.metric == "satisfaction")
        .unwrap();
    assert_eq!(row.draft, None, "{row:?}");
}

/// One grid worker per grid and twenty days of work per event: every
/// worker is busy from the first event to the period's end, and every
/// later event waits. The report says so, with work and waits still under
/// way at the end counted up to it.
#[test]
fn a_swamped_pool_shows_its_work_and_its_waits() {
    let yaml = fortnight("", "", "{constant: 20d}", "");
    let r = simulate(&yaml, &shipped(), None, Options::default());
    let grid = pool(&r, "grid");
    assert!(grid.utilisation > 0.8, "{grid:?}");
    assert!(grid.busiest_utilisation > 0.99, "{grid:?}");
    assert!(grid.waiting_at_end > 0, "{grid:?}");
    assert!(grid.queued > grid.served, "{grid:?}");
    assert!(grid.mean_wait_hours > 1.0, "{grid:?}");
    assert!(grid.max_wait_hours >= grid.mean_wait_hours, "{grid:?}");
    // Deadlines missed raise alerts; the run's clock ticks in seconds, and
    // so do the instants its report gives them (a deadline passes the
    // nanosecond after it, which would read `…:00.000000001Z`).
    let first = &r.draft.alerts.first;
    assert!(!first.is_empty());
    for a in first {
        let at: jiff::Timestamp = a["at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at.subsec_nanosecond(), 0, "{a}");
    }
}

/// With handlers to spare nobody stands in a queue, and a pool no event
/// reached (the district's desk) is still listed.
#[test]
fn queues_nobody_stood_in_are_empty_and_idle_pools_are_listed() {
    let yaml = fortnight("", "", "{exponential: 1h}", "")
        .replace("street: {handlers: 2}", "street: {handlers: 100000}");
    let r = simulate(&yaml, &shipped(), None, Options::default());
    let street = pool(&r, "street");
    assert!(street.served > 0, "{street:?}");
    assert_eq!(street.max_queue, 0, "{street:?}");
    assert_eq!(street.mean_wait_hours, 0.0, "{street:?}");
    let district = pool(&r, "district");
    assert_eq!((district.units, district.served), (0, 0), "{district:?}");
    let csv = sim::report::csv::tables(&r);
    let pools = &csv.iter().find(|(n, _)| n == "pools.csv").unwrap().1;
    assert!(pools.contains("draft,district,0,4,0,"), "{pools}");
}

/// Profiles that give the period no hour at all would simulate nothing.
#[test]
fn a_period_the_profiles_leave_empty_is_an_error() {
    let yaml = fortnight(
        "",
        "  monthly: [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]\n",
        "{exponential: 1h}",
        "",
    );
    let e = errors(&yaml, &shipped());
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "arrivals", "{e:?}");
    assert!(e[0].1.contains("nothing would arrive"), "{e:?}");
}

/// An area file with a unit listed twice is refused, as `whistle check`
/// refuses such an `areas.yaml` (E0902), instead of merged.
#[test]
fn an_area_file_with_a_unit_twice_is_an_error() {
    let tree = "districts:\n  - id: D01\n    streets:\n      - id: S01\n        communities:\n          - {id: C01, grids: [G1, G2]}\n          - {id: C02, grids: [G1]}\n";
    let yaml = fortnight("", "", "{exponential: 1h}", "")
        .replace("areas: policy", "areas: {file: tree.yaml}");
    let scenario = sim::parse(&yaml).unwrap();
    let mut read = |name: &str| match name {
        "tree.yaml" => Ok(tree.to_string()),
        other => no_files(other),
    };
    let Err(e) = sim::plan(&scenario, &shipped(), Options::default(), &mut read) else {
        panic!("a duplicate grid is an error");
    };
    assert_eq!(e.0[0].path, "areas.file", "{e}");
    assert!(e.0[0].message.contains("`G1`"), "{e}");
}

/// A period of millennia, or one that runs into the calendar's last
/// days, is named as such, not in the date library's words.
#[test]
fn periods_beyond_what_is_handled_are_named() {
    let at = |period: &str| {
        let yaml = fortnight("", "", "{exponential: 1h}", "")
            .replace("from: 2026-06-01, to: 2026-06-14", period);
        errors(&yaml, &shipped())
    };
    let e = at("from: 0001-01-01, to: 9999-12-31");
    assert_eq!(
        e,
        [("period".into(), "a period is at most ten years".into())]
    );
    let e = at("from: 9999-12-25, to: 9999-12-31");
    assert_eq!(e[0].0, "period.to", "{e:?}");
    assert!(e[0].1.contains("9999-12-30 at the latest"), "{e:?}");
}

/// A scenario with a wrong value and a name the policy does not know is
/// told of both in one run, not of the name only once the value is right.
#[test]
fn values_and_names_are_told_in_one_run() {
    let yaml = fortnight("", "", "{uniform: [2h, 1h]}", "")
        .replace("garbage_piling:", "garbage_pilin:")
        .replace(
            "district: {handlers: 4}",
            "district: {handlers: 4}\n  departments:\n    firemen: {handlers: 2}",
        );
    let e = errors(&yaml, &shipped());
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "capacity.levels.grid.handling.uniform",
            "arrivals.categories.garbage_pilin",
            "capacity.departments.firemen",
        ],
        "{e:?}"
    );
}

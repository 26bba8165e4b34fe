//! The simulator against results computable by hand (an M/M/c queue),
//! its determinism, common random numbers, and scenario validation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{QUEUE_POLICY, errors, no_files, one_grid, policy, shipped, simulate};
use whistle_engine::Policy;
use whistle_engine::sim::{self, Options, Role};

/// Erlang's C formula: the probability that an arrival waits in an M/M/c
/// queue with offered load `a` (in handlers).
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let top = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
    top / (sum + top)
}

#[test]
fn an_mmc_queue_waits_as_erlang_c_says() {
    // λ = 30 events/hour, mean handling 6 minutes (μ = 10/hour), c = 4
    // handlers: offered load a = 3, utilisation 0.75.
    // Mean wait Wq = C(c, a) / (cμ − λ) = 0.5094 × 6 min ≈ 183 s.
    let (c, a, mean_service) = (4u32, 3.0, 360.0);
    let expected = erlang_c(c, a) / (f64::from(c) - a) * mean_service;
    assert!((expected - 183.4).abs() < 0.1, "{expected}");
    let p = policy(QUEUE_POLICY);
    let mut waits = Vec::new();
    let mut utilisations = Vec::new();
    for seed in [1, 2, 3, 4] {
        let grid =
            format!("handlers: {c}, hours: always, accept: 0s, handling: {{exponential: 6m}}");
        let yaml = one_grid("from: 2026-01-01, to: 2026-12-31", "", 720, &grid)
            + &format!("seed: {seed}\n");
        let r = simulate(&yaml, &p, None, Options::default());
        let grid = r.draft.pools.iter().find(|x| x.pool == "grid").unwrap();
        assert!(grid.served > 250_000, "{}", grid.served);
        waits.push(grid.mean_wait_hours * 3600.0);
        utilisations.push(grid.utilisation);
        assert_eq!(r.draft.totals.raised, 0);
        assert_eq!(r.draft.totals.refused, 0);
    }
    let wait = waits.iter().sum::<f64>() / waits.len() as f64;
    eprintln!("M/M/4: simulated mean waits {waits:?} s, Erlang C {expected:.1} s");
    let util = utilisations.iter().sum::<f64>() / utilisations.len() as f64;
    assert!(
        (wait / expected - 1.0).abs() < 0.05,
        "simulated mean wait {wait:.1} s ({waits:?}) vs Erlang C {expected:.1} s"
    );
    assert!((util - 0.75).abs() < 0.01, "utilisation {util}");
}

#[test]
fn working_hours_hold_work_until_the_pool_opens() {
    // One handler working 09:00-10:00 UTC, events only at 03:00: each waits
    // six hours for the desk, then is worked on in turn.
    let p = policy(QUEUE_POLICY);
    let mut hourly = vec!["0"; 24];
    hourly[3] = "1";
    let yaml = one_grid(
        "from: 2026-03-02, to: 2026-03-06",
        &format!("  hourly: [{}]\n", hourly.join(", ")),
        4,
        "handlers: 1, hours: \"mon..sun 09:00-10:00\", accept: 0s, handling: 1m",
    );
    let r = simulate(&yaml, &p, None, Options::default());
    let grid = r.draft.pools.iter().find(|x| x.pool == "grid").unwrap();
    assert!(grid.served >= 10, "{}", grid.served);
    // Accepted at 09:00 (acceptance waits for the desk too), so the queue
    // wait is only the others' handling: at most a few minutes.
    assert!(grid.max_wait_hours < 0.2, "{}", grid.max_wait_hours);
    // Reported 03:00-04:00, resolved from 09:00 on: about five and a half hours.
    let h = r.draft.totals.mean_resolution_hours.unwrap();
    assert!((5.0..6.5).contains(&h), "{h}");
}

#[test]
fn a_run_that_resolves_nothing_has_no_mean_resolution_time() {
    // The grid works at weekends only; the period is one Monday.
    let p = policy(QUEUE_POLICY);
    let yaml = one_grid(
        "from: 2026-03-02, to: 2026-03-02",
        "",
        20,
        "handlers: 1, hours: \"sat..sun 09:00-10:00\", accept: 0s, handling: 1m",
    );
    let r = simulate(&yaml, &p, None, Options::default());
    assert!(r.draft.totals.events > 0);
    assert_eq!(r.draft.totals.resolved, 0);
    assert_eq!(r.draft.totals.mean_resolution_hours, None);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert!(
        json["draft"]["totals"]["mean_resolution_hours"].is_null(),
        "{}",
        json["draft"]["totals"]
    );
}

/// A grid that works on weekdays only, events every day; the period is a
/// Monday and a Tuesday, after `warmup` days (none, or the weekend).
fn weekday_grid(warmup: Option<u32>) -> String {
    let warmup = warmup.map_or(String::new(), |d| format!(", warmup_days: {d}"));
    one_grid(
        &format!("from: 2026-03-02, to: 2026-03-03{warmup}"),
        "",
        200,
        "handlers: 1, hours: \"mon..fri 09:00-17:00\", accept: 0s, handling: 1m",
    )
}

#[test]
fn a_warm_up_starts_the_period_with_the_backlog_a_running_system_has() {
    let p = policy(QUEUE_POLICY);
    let cold = simulate(&weekday_grid(None), &p, None, Options::default());
    let warm = simulate(&weekday_grid(Some(2)), &p, None, Options::default());
    let served = |r: &sim::Report| {
        r.draft
            .pools
            .iter()
            .find(|x| x.pool == "grid")
            .unwrap()
            .served
    };
    // Only the period's events are counted: about 400 either way.
    for r in [&cold, &warm] {
        let events = r.draft.totals.events as f64;
        assert!((300.0..500.0).contains(&events), "{events}");
        let weekly: f64 = r.draft.weekly.arrivals.iter().sum();
        assert_eq!(weekly, events);
    }
    // The weekend's events wait for Monday: the grid serves them in the
    // period besides the period's own, which a cold start never sees.
    assert!(
        served(&warm) as f64 > served(&cold) as f64 * 1.5,
        "warm {} against cold {}",
        served(&warm),
        served(&cold)
    );
    assert!(
        warm.draft
            .pools
            .iter()
            .find(|x| x.pool == "grid")
            .unwrap()
            .max_queue
            > cold
                .draft
                .pools
                .iter()
                .find(|x| x.pool == "grid")
                .unwrap()
                .max_queue
    );
    assert_eq!(warm.scenario.warmup_days, 2);
    assert!(warm.to_json().contains("\"warmup_days\": 2"));
    assert!(sim::report::html::page(&warm).contains("after 2 warm-up days"));
    // No warm-up written and none asked for are the same run.
    let zero = simulate(&weekday_grid(Some(0)), &p, None, Options::default());
    assert_eq!(zero.to_json(), cold.to_json());
    assert!(!cold.to_json().contains("warmup_days"));
}

#[test]
fn a_warm_up_longer_than_a_year_is_an_error_at_its_field() {
    let p = policy(QUEUE_POLICY);
    let e = errors(&weekday_grid(Some(400)), &p);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "period.warmup_days", "{e:?}");
    assert!(e[0].1.contains("366"), "{e:?}");
}

const SMALL_WUHOU: &str = "
period: {from: 2026-06-01, to: 2026-06-14}
areas: policy
arrivals:
  repeat_location: 0.3
  categories:
    fire_lane: {per_day: 40, attr: {vehicles: {poisson: 2}, people_trapped: {poisson: 0.05}}}
    neighbour_noise: {per_day: 80, repeat_location: 0.5}
    garbage_piling: {per_day: 60, attr: {volume_m3: {lognormal: {median: 1, p90: 6}}}}
    gas_leak: {per_day: 5, attr: {gas_ppm: {uniform: [100, 2000]}}}
    elevator_trapped: {per_day: 10, attr: {people_trapped: {poisson: 2}}}
capacity:
  levels:
    grid: {handlers: 1, hours: \"mon..sun 08:00-20:00\", accept: {exponential: 30m}, handling: {lognormal: {median: 1h, p90: 3h}}}
    community: {handlers: 2, hours: office, accept: {exponential: 20m}, handling: {exponential: 2h}}
    street: {handlers: 2, accept: {exponential: 20m}, handling: {exponential: 3h}}
    district: {handlers: 4, accept: {exponential: 5m}, handling: {exponential: 4h}}
  departments:
    urban: {handlers: 3, hours: \"mon..sun 07:00-22:00\", handling: {exponential: 2h}}
reopen: {on_time: 0.05, late: 0.2}
";

#[test]
fn the_same_seed_gives_the_same_report_byte_for_byte() {
    let p = shipped();
    let a = simulate(
        SMALL_WUHOU,
        &p,
        Some(&p),
        Options {
            seed: Some(9),
            events: None,
        },
    );
    let b = simulate(
        SMALL_WUHOU,
        &p,
        Some(&p),
        Options {
            seed: Some(9),
            events: None,
        },
    );
    let (ja, jb) = (a.to_json(), b.to_json());
    assert!(ja.len() > 10_000);
    assert_eq!(ja, jb);
    assert_eq!(sim::report::html::page(&a), sim::report::html::page(&b));
    let c = simulate(
        SMALL_WUHOU,
        &p,
        None,
        Options {
            seed: Some(10),
            events: None,
        },
    );
    assert_ne!(
        a.draft.totals, c.draft.totals,
        "another seed, another history"
    );
}

#[test]
fn the_daily_backlog_is_taken_at_each_days_end() {
    let p = shipped();
    let r = simulate(SMALL_WUHOU, &p, None, Options::default());
    let b = &r.draft.backlog;
    assert_eq!(b.days.len(), 14);
    assert_eq!(b.days.first().map(String::as_str), Some("2026-06-01"));
    let on = |day: usize| -> f64 { b.by_level.iter().map(|s| s.values[day]).sum() };
    // Events reported on the first day are still open at its end.
    assert!(on(0) > 0.0, "{:?}", b.by_level);
    // The last day ends with the period: its backlog is what is left open.
    assert_eq!(on(13), r.draft.totals.open_at_end as f64);
}

#[test]
fn both_policies_see_the_same_events_and_handling() {
    // The same policy as draft and baseline: every measure is equal, so a
    // difference between a draft and its baseline is the policy's doing.
    let p = shipped();
    let r = simulate(SMALL_WUHOU, &p, Some(&p), Options::default());
    let b = r.baseline.as_ref().unwrap();
    assert!(r.draft.totals.events > 2_000);
    assert_eq!(r.draft.totals, b.totals);
    assert_eq!(r.draft.weekly, b.weekly);
    assert_eq!(r.draft.backlog, b.backlog);
    assert!(
        r.summary.iter().all(|s| s.delta == Some(Some(0.0))),
        "{:?}",
        r.summary
    );
    // Nobody rates: satisfaction has nothing to be taken over, and says
    // so (null, "—") rather than 0 %, on both sides and in the difference.
    let unrated = format!("{SMALL_WUHOU}feedback: {{share: 0}}\n");
    let r = simulate(&unrated, &p, Some(&p), Options::default());
    let sat = r
        .summary
        .iter()
        .find(|s| s.metric == "satisfaction")
        .unwrap();
    assert_eq!(
        (sat.draft, sat.baseline, sat.delta),
        (None, Some(None), Some(None))
    );
    let line = r
        .table()
        .lines()
        .find(|l| l.starts_with("satisfied"))
        .unwrap()
        .to_string();
    assert_eq!(line.matches('—').count(), 3, "{line}");
    assert!(!line.contains('%'), "{line}");

    // One day: the peaks are those of the day, not of its midnight sample.
    let one_day = SMALL_WUHOU.replace("to: 2026-06-14", "to: 2026-06-01");
    let r = simulate(&one_day, &p, None, Options::default());
    let t = &r.draft.totals;
    assert!(t.peak_open > 0 && t.peak_open <= t.events, "{t:?}");
    let levels: u64 = r.draft.levels.iter().map(|l| l.peak_backlog).sum();
    assert!(levels >= t.peak_open, "{:?}", r.draft.levels);
    // The engine's rules were applied: escalations, whistles, alerts, scores.
    assert!(r.draft.totals.raised > 0);
    assert!(r.draft.totals.steps_fired > 0);
    assert!(
        r.draft.totals.whistled > 0,
        "red gas leaks whistle police and fire"
    );
    assert!(!r.draft.assessment.scores.is_empty());
    assert_eq!(r.draft.totals.refused, 0);
    assert!(
        r.draft.alerts.raised > 0,
        "noise repeats trip the dispute hotspot warning"
    );
}

#[test]
fn events_scale_to_the_requested_total() {
    let p = shipped();
    let r = simulate(
        SMALL_WUHOU,
        &p,
        None,
        Options {
            seed: None,
            events: Some(3_000.0),
        },
    );
    assert!((r.scenario.expected_events - 3_000.0).abs() < 1.0);
    let n = r.draft.totals.events as f64;
    assert!((n - 3_000.0).abs() < 250.0, "{n}");
}

#[test]
fn names_the_policy_does_not_know_are_errors_at_their_field() {
    let p = shipped();
    let unknown_cat = SMALL_WUHOU.replace("gas_leak:", "gas_leek:");
    let e = errors(&unknown_cat, &p);
    assert_eq!(e[0].0, "arrivals.categories.gas_leek", "{e:?}");
    assert!(e[0].1.contains("no category `gas_leek`"), "{e:?}");

    let unknown_level = SMALL_WUHOU.replace("    district: {", "    county: {");
    let e = errors(&unknown_level, &p);
    assert!(
        e.iter()
            .any(|(path, m)| path == "capacity.levels.county" && m.contains("no level `county`")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|(path, m)| path == "capacity.levels" && m.contains("`district`")),
        "{e:?}"
    );

    // The schema's counts said in words, not the validator's.
    let mut in_levels = false;
    let no_levels: String = SMALL_WUHOU
        .lines()
        .filter_map(|l| {
            if l == "  levels:" {
                in_levels = true;
                return Some("  levels: {}\n".to_string());
            }
            in_levels &= l.starts_with("    ");
            (!in_levels).then(|| format!("{l}\n"))
        })
        .collect();
    let e = errors(&no_levels, &p);
    assert!(
        e.iter()
            .any(|(path, m)| path == "capacity.levels" && m == "has 0 entries; give at least 1"),
        "{e:?}"
    );

    let unknown_dept = SMALL_WUHOU.replace("    urban: {", "    urbn: {");
    let e = errors(&unknown_dept, &p);
    assert_eq!(e[0].0, "capacity.departments.urbn", "{e:?}");

    let bad_hours = SMALL_WUHOU.replace("mon..sun 07:00-22:00", "every day");
    let e = errors(&bad_hours, &p);
    assert_eq!(e[0].0, "capacity.departments.urban.hours", "{e:?}");

    // A wrong value and a misnamed level in one scenario: all is told in
    // one run, the level left without a pool too.
    let both = bad_hours.replace("    district: {", "    county: {");
    let e = errors(&both, &p);
    for (path, said) in [
        (
            "capacity.departments.urban.hours",
            "`every` is not a weekday",
        ),
        ("capacity.levels.county", "no level `county`"),
        ("capacity.levels", "no pool for the level `district`"),
    ] {
        assert!(
            e.iter().any(|(p, m)| p == path && m.contains(said)),
            "{path}: {e:?}"
        );
    }

    let backwards = SMALL_WUHOU.replace("to: 2026-06-14", "to: 2026-05-14");
    let e = errors(&backwards, &p);
    assert_eq!(e[0].0, "period.to", "{e:?}");
    // Said with the others, not instead of them.
    let e = errors(&both.replace("to: 2026-06-14", "to: 2026-05-14"), &p);
    assert_eq!(e[0].0, "period.to", "{e:?}");
    assert!(
        e.iter().any(|(p, _)| p == "capacity.levels.county"),
        "{e:?}"
    );

    let bad_dist = SMALL_WUHOU.replace(
        "{lognormal: {median: 1h, p90: 3h}}",
        "{lognormal: {median: 3h, p90: 1h}}",
    );
    let e = errors(&bad_dist, &p);
    assert_eq!(e[0].0, "capacity.levels.grid.handling.lognormal", "{e:?}");

    // Rates that come to no event: said, not a report of nothing.
    let quiet = SMALL_WUHOU.replace("arrivals:\n", "arrivals:\n  total: 0.001\n");
    assert_ne!(quiet, SMALL_WUHOU);
    let e = errors(&quiet, &p);
    assert_eq!(e[0].0, "arrivals", "{e:?}");
    assert!(e[0].1.contains("nothing to simulate"), "{e:?}");

    // A time longer than any period is a slip, not capped in silence.
    let endless = SMALL_WUHOU.replace(
        "{lognormal: {median: 1h, p90: 3h}}",
        "{constant: 99999999999999999999d}",
    );
    let e = errors(&endless, &p);
    assert_eq!(e[0].0, "capacity.levels.grid.handling.constant", "{e:?}");
    assert!(e[0].1.contains("longer than any period"), "{e:?}");
    let poisson = SMALL_WUHOU.replacen("vehicles: {poisson: 2}", "vehicles: {poisson: 1e300}", 1);
    assert_ne!(poisson, SMALL_WUHOU);
    let e = errors(&poisson, &p);
    assert!(
        e[0].1
            .contains("a Poisson mean of 1.000e300 is more than can be drawn"),
        "{e:?}"
    );

    let no_grids = SMALL_WUHOU.replace("areas: policy", "areas: {file: nowhere.yaml}");
    let e = errors(&no_grids, &p);
    assert_eq!(e[0].0, "areas.file", "{e:?}");
    assert!(e[0].1.contains("nowhere.yaml"), "{e:?}");
}

/// The plan of `yaml` scaled to `events`.
fn plan_scaled(yaml: &str, p: &Policy, events: f64) -> Result<sim::Plan, sim::ScenarioErrors> {
    let scenario = sim::parse(yaml).unwrap();
    let options = Options {
        seed: None,
        events: Some(events),
    };
    sim::plan(&scenario, p, options, &mut no_files)
}

#[test]
fn a_volume_no_run_could_finish_is_an_error_at_its_field() {
    let p = shipped();
    let huge = SMALL_WUHOU.replace("fire_lane: {per_day: 40", "fire_lane: {per_day: 1e15");
    let e = errors(&huge, &p);
    assert_eq!(e[0].0, "arrivals.categories", "{e:?}");
    assert!(e[0].1.contains("at most 1e9"), "{e:?}");
    // Scaled down, the same rates are fine.
    let plan = plan_scaled(&huge, &p, 1_000.0).unwrap();
    let expected = plan.arrivals.map(|a| a.expected).unwrap_or(0.0);
    assert!((expected - 1_000.0).abs() < 1.0, "{expected}");
    // Down to one event, still a run; to half of one, nothing to run.
    assert!(plan_scaled(&huge, &p, 1.0).is_ok());
    let e = plan_scaled(&huge, &p, 0.4).unwrap_err();
    assert!(e.0[0].message.contains("nothing to simulate"), "{e:?}");
    // Scaled up past the bound, the option is named.
    let e = plan_scaled(&huge, &p, 2e9).unwrap_err();
    assert_eq!(e.0[0].path, "events", "{e:?}");
    // Rates whose sum overflows are named, not scaled to nothing.
    let overflow = SMALL_WUHOU.replace("fire_lane: {per_day: 40", "fire_lane: {per_day: 1e308");
    let e = plan_scaled(&overflow, &p, 1_000.0).unwrap_err();
    assert_eq!(e.0[0].path, "arrivals.categories", "{e:?}");
    assert!(e.0[0].message.contains("too large"), "{e:?}");
}

#[test]
fn shape_errors_name_the_field() {
    let p = shipped();
    let e = errors(&SMALL_WUHOU.replace("handlers: 3", "handlers: three"), &p);
    assert_eq!(e[0].0, "capacity.departments.urban.handlers", "{e:?}");
    let e = errors(
        &SMALL_WUHOU.replace("per_day: 40", "per_day: 40, perday: 3"),
        &p,
    );
    assert_eq!(e[0].0, "arrivals.categories.fire_lane", "{e:?}");
    assert!(e[0].1.contains("`perday`"), "{e:?}");
    // An alternative chosen by its key reports its own mistakes, further in.
    let e = errors(
        &SMALL_WUHOU.replace("{exponential: 30m}", "{exponential: half an hour}"),
        &p,
    );
    assert_eq!(e[0].0, "capacity.levels.grid.accept.exponential", "{e:?}");
    assert!(e[0].1.contains("not a duration"), "{e:?}");
    let e = errors(
        &SMALL_WUHOU.replace(
            "areas: policy",
            "areas: {generate: {streets: 2, communities: 2, grids: 500}}",
        ),
        &p,
    );
    assert_eq!(e[0].0, "areas.generate.grids", "{e:?}");
    assert!(e[0].1.contains("maximum"), "{e:?}");
    let e = errors(
        &SMALL_WUHOU.replace("vehicles: {poisson: 2}", "vehicles: {poisson: -2}"),
        &p,
    );
    assert_eq!(
        e[0].0, "arrivals.categories.fire_lane.attr.vehicles.poisson",
        "{e:?}"
    );
    let e = errors(
        &SMALL_WUHOU.replace("vehicles: {poisson: 2}", "vehicles: {poison: 2}"),
        &p,
    );
    assert_eq!(
        e[0].0, "arrivals.categories.fire_lane.attr.vehicles",
        "{e:?}"
    );
    let e = errors(&SMALL_WUHOU.replace("capacity:", "capacitty:"), &p);
    assert!(
        e.iter()
            .any(|(path, m)| path.is_empty() && m.contains("capacity")),
        "{e:?}"
    );
}

/// Red when the event is `hot`; red limits short enough that red events
/// are often late, blue ones long enough that they never are.
const ATTR_POLICY: &str = r#"
policy "attrs" { version "1" timezone "UTC" }
levels grid < street
grades blue < red
grade blue { level grid respond 10d resolve 30d }
grade red  { level grid respond 5m resolve 20m }
department d "d" { level grid }
category work { lead d grade red when attr.hot == true grade blue }
fallback { lead d grade blue }
"#;

#[test]
fn attributes_set_aside_come_back_when_a_reopen_decides_again() {
    // The policy reads `attr.hot` only when deciding, so the run sets each
    // event's attributes aside once it has arrived; a reopen decides again
    // and must see them. With a ladder step that reads attributes (and
    // never fires) the cases keep theirs all along: both runs must agree.
    let yaml = "
period: {from: 2026-01-01, to: 2026-02-28}
seed: 3
# Two grids on two streets: the street table tells them apart.
areas: {generate: {streets: 2, communities: 1, grids: 1}}
arrivals:
  categories:
    work: {per_day: 200, attr: {hot: {bernoulli: 0.5}}}
capacity:
  levels:
    grid: {handlers: 3, hours: always, accept: {exponential: 2m}, handling: {exponential: 15m}}
    street: {handlers: 1}
feedback: {share: 0.5, delay: {exponential: 1h}}
reopen: {on_time: 0.3, late: 0.3, delay: {exponential: 2h}}
";
    let set_aside = policy(ATTR_POLICY);
    let kept = policy(&format!(
        "{ATTR_POLICY}escalate {{\n  when attr.hot == 7 -> remind\n}}\n"
    ));
    let a = simulate(yaml, &set_aside, None, Options::default());
    let b = simulate(yaml, &kept, None, Options::default());
    assert!(a.draft.totals.reopens > 2_000, "{:?}", a.draft.totals);
    assert!(
        a.draft.totals.resolve_missed > 1_000,
        "{:?}",
        a.draft.totals
    );
    assert_eq!(a.draft.totals, b.draft.totals);
    assert_eq!(a.draft.grades, b.draft.grades);
    // A generated event's attributes are drawn again; those of an event
    // the generator cannot draw again (a replayed one) are kept as bytes.
    // Nor is its grid's index in the plan known: what the run keeps per
    // grid by that index must be what it finds by the grid's name.
    let c = without_redraw(yaml, &set_aside);
    assert_eq!(a.draft.totals, c.totals);
    assert_eq!(a.draft.grades, c.grades);
    assert_eq!(a.draft.levels, c.levels);
    assert_eq!(a.draft.assessment, c.assessment);
}

/// The run finds what it keeps per grid (units, the tally's row, the
/// monitor's groups) by the grid's number in the plan: the same run with
/// every grid found by its name must give the same report, alerts and all.
#[test]
fn grids_found_by_number_or_by_name_give_the_same_run() {
    let p = shipped();
    let by_number = run_draft(SMALL_WUHOU, &p, |plan| {
        let arrivals = plan.arrivals.as_ref().expect("synthetic arrivals");
        sim::Generator::new(arrivals, &plan.tz, plan.start, plan.end, plan.seed).collect()
    });
    let by_name = without_redraw(SMALL_WUHOU, &p);
    assert!(by_number.alerts.raised > 10, "{:?}", by_number.alerts);
    assert_eq!(by_number.alerts, by_name.alerts);
    assert_eq!(by_number.assessment, by_name.assessment);
    assert_eq!(by_number.levels, by_name.levels);
    assert_eq!(by_number.totals, by_name.totals);
}

/// A run of the scenario's generated events as if they could not be
/// drawn again and their grids were not in the plan, the way replayed
/// events go.
fn without_redraw(yaml: &str, p: &Policy) -> sim::RunReport {
    run_draft(yaml, p, |plan| {
        let arrivals = plan.arrivals.as_ref().expect("synthetic arrivals");
        sim::Generator::new(arrivals, &plan.tz, plan.start, plan.end, plan.seed)
            .map(|a| {
                a.map(|a| sim::Arrival {
                    redraw: None,
                    grid: None,
                    ..a
                })
            })
            .collect()
    })
}

/// A run of the scenario under `p` (as the draft) over the arrivals
/// `arrivals` makes from its plan.
fn run_draft(
    yaml: &str,
    p: &Policy,
    arrivals: impl FnOnce(&sim::Plan) -> Vec<Result<sim::Arrival, sim::Skip>>,
) -> sim::RunReport {
    let scenario = sim::parse(yaml).unwrap_or_else(|e| panic!("{e}"));
    let plan = sim::plan(&scenario, p, Options::default(), &mut no_files)
        .unwrap_or_else(|e| panic!("{e}"));
    let p = sim::with_areas(&plan, p);
    let staff = sim::staff(&plan, &p, Role::Draft).unwrap_or_else(|e| panic!("{e}"));
    let events = arrivals(&plan);
    let mut run = sim::Run::new(&p, &plan, &staff);
    run.run(events.into_iter(), &mut |_| {});
    run.into_report(Role::Draft)
}

/// The draft's and the baseline's runs go on two threads: their copies
/// of the scenario's area tree share no units, and the units' names are
/// lasting, so that cloning one for a case writes nothing both threads
/// would take from each other (a shared reference count would be).
#[test]
fn each_run_gets_its_own_copy_of_the_area_tree() {
    let yaml = "
period: {from: 2026-01-01, to: 2026-01-02}
areas: {generate: {streets: 2, communities: 2, grids: 3}}
arrivals:
  categories:
    work: {per_day: 10}
capacity:
  levels:
    grid: {handlers: 1}
";
    let p = policy(QUEUE_POLICY);
    let scenario = sim::parse(yaml).unwrap_or_else(|e| panic!("{e}"));
    let plan = sim::plan(&scenario, &p, Options::default(), &mut no_files)
        .unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (sim::with_areas(&plan, &p), sim::with_areas(&plan, &p));
    let tree = plan.areas.as_ref().expect("a generated tree");
    assert_eq!(a.areas.grids.len(), 12);
    for (grid, units) in &tree.grids {
        let (ua, ub) = (&a.areas.grids[grid], &b.areas.grids[grid]);
        assert_eq!(**ua, **units, "grid {grid}");
        assert_eq!(**ub, **units, "grid {grid}");
        assert!(!std::sync::Arc::ptr_eq(ua, ub) && !std::sync::Arc::ptr_eq(ua, units));
        let names = ua.iter().chain(ub.iter()).flatten();
        assert!(names.clone().count() >= 4, "{ua:?}");
        assert!(names.clone().all(|n| n.is_lasting()), "{ua:?}");
    }
}

/// A share that two reports of one second take over the bound and back.
const SHARE_THRESHOLD: &str = r#"
threshold patrols "巡查为主" {
  metric active_discovery by department over 1d
  when   > 50%
  alert  street
}
"#;

/// The alerts raised and cleared when a patrol's report and a citizen's
/// arrive `apart` seconds after it.
fn alerts_of_two_reports(apart: i64) -> (u64, u64) {
    let yaml = "
period: {from: 2026-01-01, to: 2026-01-03}
areas: {generate: {streets: 1, communities: 1, grids: 1}}
arrivals:
  categories:
    work: {per_day: 1}
capacity:
  levels:
    grid: {handlers: 1}
    street: {handlers: 1}
";
    let p = policy(&format!("{QUEUE_POLICY}{SHARE_THRESHOLD}"));
    let report = run_draft(yaml, &p, |plan| {
        let tree = plan.areas.as_ref().expect("a generated tree");
        let grid = tree.grids.keys().next().unwrap().clone();
        let at = jiff::Timestamp::from_second(1_767_268_800).unwrap(); // 2026-01-01T12:00Z
        let event = |i: u64, source: &str, at: jiff::Timestamp| {
            let json = format!(
                r#"{{"id":"E{i}","category":"work","grid":"{grid}","source":"{source}","reported_at":"{at}"}}"#
            );
            Ok(sim::Arrival {
                index: i,
                event: whistle_engine::event::parse_event(&json).unwrap(),
                category: Some(0),
                grid: None,
                redraw: None,
                drawn: None,
            })
        };
        let later = at + jiff::SignedDuration::from_secs(apart);
        vec![event(0, "patrol", at), event(1, "citizen", later)]
    });
    (report.alerts.raised, report.alerts.cleared)
}

#[test]
fn a_group_raised_and_cleared_within_one_second_is_no_alert() {
    // 1 of 1 from patrol is over 50%; 1 of 2 is not.
    assert_eq!(alerts_of_two_reports(1), (1, 1));
    // In one second: seen together, as the server sees a batch.
    assert_eq!(alerts_of_two_reports(0), (0, 0));
}

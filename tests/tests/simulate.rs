//! `whistle simulate` and `POST /v1/simulate`, end to end: the shipped
//! examples run, the report is byte-identical for the same seed, scenario
//! mistakes are named by field, and the server runs a job with progress on
//! the stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::server::Server;
use common::{check_api_schema, root, run, shipped, text};
use serde_json::{Value, json};

/// The shipped year, cut to about 15,000 events so that it runs in CI time.
fn year_args(out: &Path, seed: &str) -> Vec<String> {
    [
        "simulate",
        "--scenario",
        "examples/scenarios/wuhou-2026.yaml",
        "--policy",
        "policies/wuhou",
        "--baseline",
        "policies/wuhou",
        "--events",
        "15000",
        "--seed",
        seed,
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

fn simulate(args: &[String]) -> std::process::Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&a, b"")
}

#[test]
fn the_shipped_year_writes_a_full_report_and_repeats_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let out = simulate(&year_args(&a, "5"));
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("resolve deadline missed"), "{stdout}");
    assert!(stdout.contains("draft − baseline"), "{stdout}");
    for f in [
        "report.json",
        "report.html",
        "summary.csv",
        "weekly.csv",
        "backlog.csv",
        "grades.csv",
        "levels.csv",
        "pools.csv",
        "scores.csv",
        "targets.csv",
        "alerts.csv",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
        if let Some(stem) = f.strip_suffix(".csv") {
            // A byte-order mark first, or Excel garbles the Chinese names;
            // then one header and rows of its length.
            let bytes = std::fs::read(a.join(f)).unwrap();
            let body = bytes.strip_prefix("\u{feff}".as_bytes());
            assert!(body.is_some(), "{f} starts without a byte-order mark");
            let mut rows = csv::Reader::from_reader(body.unwrap());
            let header = rows.headers().unwrap().clone();
            assert!(header.len() >= 4, "{f}: {header:?}");
            let records: Vec<_> = rows.records().collect::<Result<_, _>>().unwrap();
            assert!(!records.is_empty() || stem == "alerts", "{f} has no rows");
        }
    }
    let scores = std::fs::read_to_string(a.join("scores.csv")).unwrap();
    assert!(scores.contains("城管执法中队"), "{scores}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(a.join("report.json")).unwrap()).unwrap();
    let events = report["draft"]["totals"]["events"].as_u64().unwrap();
    assert!((12_000..18_000).contains(&events), "{events}");
    assert_eq!(
        report["baseline"]["totals"]["events"].as_u64(),
        Some(events)
    );
    assert_eq!(report["scenario"]["seed"], 5);
    assert!(
        report["draft"]["weekly"]["arrivals"]
            .as_array()
            .unwrap()
            .len()
            >= 52
    );
    assert!(
        !report["draft"]["assessment"]["scores"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.matches("<svg").count() >= 8, "charts are inline SVG");
    for heading in [
        "Weekly volume",
        "Backlog per level",
        "Backlog per department",
        "Deadline misses by grade",
        "Escalations by level",
        "Threshold alerts over time",
        "Assessment scores",
        "Draft minus baseline",
    ] {
        assert!(html.contains(heading), "{heading}");
    }
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "self-contained"
    );
    // Too many communities for bars: every one is in a table instead.
    let communities = html.split("<h3>assess community").nth(1).unwrap();
    let table = &communities[..communities.find("</table>").unwrap()];
    assert!(table.contains("<th>community</th>"), "{table}");
    assert_eq!(table.matches("<tr><td>C").count(), 33, "{table}");

    let again = simulate(&year_args(&b, "5"));
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        std::fs::read(a.join("report.json")).unwrap(),
        std::fs::read(b.join("report.json")).unwrap(),
        "same seed and inputs, same bytes"
    );
    let other = simulate(&year_args(&c, "6"));
    assert!(other.status.success());
    assert_ne!(
        std::fs::read(a.join("report.json")).unwrap(),
        std::fs::read(c.join("report.json")).unwrap()
    );
}

#[test]
fn the_trade_off_example_shows_its_trade_off() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "simulate",
            "--scenario",
            "examples/scenarios/draft-short-red/scenario.yaml",
            "--policy",
            "examples/scenarios/draft-short-red/policy",
            "--baseline",
            "policies/wuhou",
            "--events",
            "40000",
            "--quiet",
            "--out",
            &tmp.path().display().to_string(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out));
    let r: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    let row = |m: &str| {
        r["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["metric"] == m)
            .unwrap_or_else(|| panic!("no {m}"))
            .clone()
    };
    // Shorter red limits with the same people: more red deadlines missed...
    let red = row("resolve_missed_rate_red");
    assert!(red["delta"].as_f64().unwrap() > 0.0, "{red}");
    // ...and the district, no longer handed red events early, gets fewer.
    let district = row("raises_to_district");
    assert!(district["delta"].as_f64().unwrap() < 0.0, "{district}");
}

#[test]
fn scenario_mistakes_are_named_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let year = std::fs::read_to_string(root().join("examples/scenarios/wuhou-2026.yaml")).unwrap();
    let cases = [
        (
            year.replace("    gas_leak:", "    gas_leek:"),
            "`arrivals.categories.gas_leek`: the policy has no category `gas_leek`",
        ),
        (
            year.replace("handlers: 12", "handlers: -1"),
            "`capacity.levels.district.handlers`",
        ),
        (
            year.replace(
                "  levels:\n    # Two grid",
                "  levels:\n    county: {handlers: 1}\n    # Two grid",
            ),
            "`capacity.levels.county`: the policy has no level `county`",
        ),
        (
            year.replace("mon..sun 07:00-22:00", "daily"),
            "`capacity.departments.urban.hours`",
        ),
        (
            year.replace("period: {from: 2026-01-01", "period: {from: 2026-13-01"),
            "`period.from`",
        ),
        (
            year.replace("arrivals:", "arrivalz:"),
            "unknown field `arrivalz`",
        ),
        // The typo is said beside the key it left missing.
        (
            year.replace("\ncapacity:", "\ncapactiy:"),
            "\"capacity\" is a required property; unknown field `capactiy`",
        ),
        // The tree given has no grid: it is named, not the policy.
        (
            year.replace("areas: policy", "areas: {file: empty-areas.yaml}"),
            "`areas.file`: synthetic events need grids, and `empty-areas.yaml` has none",
        ),
        // A profile of zeros would send nothing (it used to be taken as flat).
        (
            year.replace(
                "  weekday: [1.10, 1.05, 1.00, 1.00, 1.05, 0.90, 0.90]",
                "  weekday: [0, 0, 0, 0, 0, 0, 0]",
            ),
            "`arrivals.weekday`: the weights must not all be 0",
        ),
        // The YAML reader's own words are left out.
        (
            year.replace("areas: policy", "areas: policy\nareas: policy"),
            "not valid YAML (line 17, column 1): duplicate mapping key: areas\n",
        ),
        // A rate in the wrong unit: a run of 10^305 events would never end.
        (
            year.replace(
                "street_vendor:      {per_day: 70",
                "street_vendor:      {per_day: 1e300",
            ),
            "`arrivals.categories`: the arrivals come to about",
        ),
        // The schema's largest generated tree would not fit in memory.
        (
            year.replace(
                "areas: policy",
                "areas: {generate: {districts: 99, streets: 99, communities: 99, grids: 99}}",
            ),
            "`areas.generate`: 99 × 99 × 99 × 99 is 96059601 grids; a generated tree holds at most 1000000",
        ),
        // With zero delays, a chance of 1 reopened one event for ever.
        (year.replace("late: 0.07", "late: 1"), "`reopen.late`"),
        (
            year.replace("handlers: 12", "handlers: 12.0"),
            "`capacity.levels.district.handlers`: invalid type: floating point `12.0`, expected a whole number",
        ),
        // Two mistakes in one pool: both are named at once.
        (
            year.replace(
                "hours: \"mon..sun 07:00-22:00\", accept: {exponential: 8m}",
                "hours: daily, accept: {uniform: [2h, 1h]}",
            ),
            "`capacity.departments.urban.hours`",
        ),
        (
            year.replace(
                "hours: \"mon..sun 07:00-22:00\", accept: {exponential: 8m}",
                "hours: daily, accept: {uniform: [2h, 1h]}",
            ),
            "`capacity.departments.urban.accept.uniform`",
        ),
    ];
    std::fs::write(tmp.path().join("empty-areas.yaml"), "districts: []\n").unwrap();
    let out_dir = tmp.path().join("o").display().to_string();
    let simulate = |scenario: &str| {
        run(
            &[
                "simulate",
                "--scenario",
                scenario,
                "--policy",
                &shipped(),
                "--out",
                &out_dir,
            ],
            b"",
        )
    };
    for (i, (yaml, expected)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("s{i}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        let out = simulate(&path.display().to_string());
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let t = text(&out);
        assert!(
            t.contains(expected),
            "case {i}: expected {expected:?} in:\n{t}"
        );
        assert!(!tmp.path().join("o").join("report.json").exists());
    }
    let out = simulate("no/such.yaml");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no/such.yaml"));
    // An area file that cannot be read is not the scenario's mistake.
    let path = tmp.path().join("lost-areas.yaml");
    std::fs::write(
        &path,
        year.replace("areas: policy", "areas: {file: lost.yaml}"),
    )
    .unwrap();
    let out = simulate(&path.display().to_string());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("lost-areas.yaml: `areas.file`: cannot read"),
        "{}",
        text(&out)
    );
    // The shipped year with more arguments.
    let year_with = |more: &[&str]| {
        let policy = shipped();
        let mut args = vec![
            "simulate",
            "--scenario",
            "examples/scenarios/wuhou-2026.yaml",
            "--policy",
            &policy,
        ];
        args.extend_from_slice(more);
        run(&args, b"")
    };
    let o = tmp.path().join("o").display().to_string();
    for events in ["nan", "0", "1e12", "many"] {
        let out = year_with(&["--events", events, "--out", &o]);
        assert_eq!(out.status.code(), Some(2), "{events}: {}", text(&out));
        assert!(text(&out).contains("--events"), "{events}: {}", text(&out));
        assert!(!tmp.path().join("o").join("report.json").exists());
    }
    // An --out that cannot take the report is refused before the run.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = year_with(&["--out", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is a file"), "{}", text(&out));
    assert!(
        text(&out).contains("nothing was simulated"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("simulated 0") && !text(&out).contains("events/s"));
}

/// A directory holding a copy of the example event log, the log's path,
/// and the shipped year's `capacity:` section, for replay scenarios.
fn replay_setup() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let events = root().join("examples/events.jsonl");
    std::fs::copy(&events, tmp.path().join("events.jsonl")).unwrap();
    let year = std::fs::read_to_string(root().join("examples/scenarios/wuhou-2026.yaml")).unwrap();
    let capacity = year[year.find("capacity:").unwrap()..].to_string();
    (tmp, events, capacity)
}

#[test]
fn a_replayed_log_runs_with_the_same_capacities() {
    let (tmp, events, capacity) = replay_setup();
    let yaml = format!(
        "period: {{from: 2026-05-01, to: 2026-07-31}}\nreplay:\n  file: events.jsonl\n  categories:\n    gas_leak: {{handling: 30m}}\n{capacity}"
    );
    let path = tmp.path().join("replay.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out_dir = tmp.path().join("out");
    let (scenario, policy, report_dir) = (
        path.display().to_string(),
        shipped(),
        out_dir.display().to_string(),
    );
    let simulate_with = |more: &[&str]| {
        let mut args = vec![
            "simulate",
            "--scenario",
            &scenario,
            "--policy",
            &policy,
            "--quiet",
            "--out",
            &report_dir,
        ];
        args.extend_from_slice(more);
        run(&args, b"")
    };
    let simulate_replay = || simulate_with(&[]);
    let out = simulate_replay();
    assert!(out.status.success(), "{}", text(&out));
    let r: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    let lines = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64;
    let n = r["draft"]["totals"]["events"].as_u64().unwrap();
    assert!(n > 0 && n <= lines, "{n} of {lines}");
    assert_eq!(r["scenario"]["replay"], "events.jsonl");
    assert!(!text(&out).contains("skipped"), "{}", text(&out));

    // Lines that are not events are skipped, said on the terminal with
    // their line numbers; the others still run.
    let mut log = std::fs::read_to_string(&events).unwrap();
    log.push_str("{not json\n[1, 2]\n");
    std::fs::write(tmp.path().join("events.jsonl"), log).unwrap();
    let out = simulate_replay();
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    let (bad, worse) = (lines + 1, lines + 2);
    assert!(
        t.contains(&format!(
            "warning: 2 replayed lines skipped, not simulated: line {bad}: not valid JSON"
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!("line {worse}: an event is one JSON object")),
        "{t}"
    );
    let r: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["draft"]["totals"]["events"].as_u64(), Some(n));
    assert_eq!(r["draft"]["skipped"].as_u64(), Some(2));

    // A log saved with a byte-order mark runs as without one.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(std::fs::read(&events).unwrap());
    std::fs::write(tmp.path().join("events.jsonl"), bom).unwrap();
    let out = simulate_replay();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("skipped"), "{}", text(&out));

    // An event on a grid the tree does not have, and one of another year:
    // both run or are left out as before, and the report says so.
    let original = std::fs::read_to_string(&events).unwrap();
    let first = original.lines().next().unwrap();
    let log = format!(
        "{}\n{}\n{original}",
        first
            .replacen("\"id\":\"", "\"id\":\"X-", 1)
            .replacen("\"grid\":\"G", "\"grid\":\"X", 1),
        first
            .replacen("\"id\":\"", "\"id\":\"Y-", 1)
            .replacen("2026-", "2027-", 1),
    );
    std::fs::write(tmp.path().join("events.jsonl"), log).unwrap();
    let out = simulate_replay();
    assert!(out.status.success(), "{}", text(&out));
    let r: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    let notes = r["draft"]["notes"].to_string();
    assert!(
        notes.contains("1 event(s) on grids the area tree does not have (X"),
        "{notes}"
    );
    assert!(
        notes.contains("1 event(s) of `events.jsonl` reported outside the period were left out"),
        "{notes}"
    );
    assert_eq!(r["draft"]["totals"]["events"].as_u64(), Some(n + 1));
    // `--events` cannot scale a log.
    let out = simulate_with(&["--events", "100"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("error: `--events` scales synthetic arrivals"),
        "{}",
        text(&out)
    );
    // A log of another year: nothing to simulate is an error, not a report of 0.
    let year_off = std::fs::read_to_string(&path)
        .unwrap()
        .replace("2026-", "2025-");
    std::fs::write(&path, year_off).unwrap();
    let out = simulate_replay();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("no event of `events.jsonl` falls in the period 2025-05-01 to 2025-07-31"),
        "{}",
        text(&out)
    );

    // A log newest first: most of it out of time order by more than the
    // 4,096 lines put right. A report on the rest would pass for the whole.
    let reversed: String = (0..6000)
        .rev()
        .map(|i| {
            format!(
                "{{\"id\":\"REV-{i}\",\"category\":\"fire_lane\",\"grid\":\"G010101\",\"reported_at\":\"2026-06-01T{:02}:{:02}:{:02}+08:00\"}}\n",
                i / 3600,
                i / 60 % 60,
                i % 60
            )
        })
        .collect();
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("2025-", "2026-"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("events.jsonl"), reversed).unwrap();
    let out = simulate_replay();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("out of time order by 4,096 lines or more: it is not a log in time order"),
        "{}",
        text(&out)
    );

    // A log of nothing but lines that are not events: the error says
    // why the first was skipped.
    std::fs::write(tmp.path().join("events.jsonl"), "[1, 2]\n").unwrap();
    let out = simulate_replay();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("1 line(s) skipped; the first skipped: line 1: an event is one JSON object"),
        "{}",
        text(&out)
    );
    // One JSON array of every event on one line (an export, not JSON
    // lines) is refused at once, naming the line: it was read whole, at
    // nine times its size in memory, and `/dev/zero` never ended.
    let array = format!("[{}]\n", vec![first; 8000].join(","));
    assert!(array.len() > 1 << 20);
    std::fs::write(tmp.path().join("events.jsonl"), array).unwrap();
    let out = simulate_replay();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "events.jsonl`: line 1 is longer than 1 MiB; a JSON-lines file holds one event per line"
        ),
        "{}",
        text(&out)
    );

    // A directory where the log should be is refused at once, by field
    // (it used to read as endless failing lines: a hang).
    std::fs::remove_file(tmp.path().join("events.jsonl")).unwrap();
    std::fs::create_dir(tmp.path().join("events.jsonl")).unwrap();
    let out = simulate_replay();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("`replay.file`: cannot read `")
            && text(&out).contains("it is a directory"),
        "{}",
        text(&out)
    );
}

/// A replay with a warm-up: the log's first days are handled before the
/// period and not counted; the report and the terminal say so.
#[test]
fn a_replay_warms_up_on_the_days_before_the_period() {
    let (tmp, events, capacity) = replay_setup();
    let in_period = |from: &str| {
        std::fs::read_to_string(&events)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["reported_at"].as_str().unwrap()[..10] >= *from
            })
            .count() as u64
    };
    let report = |warmup: &str| {
        let yaml = format!(
            "period: {{from: 2026-06-03, to: 2026-07-31{warmup}}}\nreplay: {{file: events.jsonl}}\n{capacity}"
        );
        let path = tmp.path().join("replay.yaml");
        std::fs::write(&path, yaml).unwrap();
        let out_dir = tmp.path().join("out");
        let out = run(
            &[
                "simulate",
                "--scenario",
                path.to_str().unwrap(),
                "--policy",
                &shipped(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
            b"",
        );
        assert!(out.status.success(), "{}", text(&out));
        let r: Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
        (r, text(&out))
    };
    let counted = in_period("2026-06-03");
    assert!(
        counted < in_period("2026-06-01"),
        "the log starts before the period"
    );
    let (cold, said) = report("");
    assert_eq!(cold["draft"]["totals"]["events"], counted);
    let notes = |r: &Value| r["draft"]["notes"].to_string();
    assert!(
        notes(&cold)
            .contains("6 event(s) of `events.jsonl` reported outside the period were left out"),
        "{}",
        notes(&cold)
    );
    assert!(!said.contains("warm-up"), "{said}");
    let (warm, said) = report(", warmup_days: 2");
    assert_eq!(warm["draft"]["totals"]["events"], counted);
    assert_eq!(warm["scenario"]["warmup_days"], 2);
    assert!(
        !notes(&warm).contains("left out"),
        "the first two days are the warm-up: {}",
        notes(&warm)
    );
    assert!(said.contains("(after a 2-day warm-up)"), "{said}");
}

/// `/v1/stream` with a bearer token: (event name, JSON data) on a channel.
fn stream(server: &Server, token: &str) -> std::sync::mpsc::Receiver<(String, Value)> {
    use std::io::BufRead;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(None)
        .build()
        .into();
    let resp = agent
        .get(&format!("{}/v1/stream", server.base))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::io::BufReader::new(resp.into_body().into_reader());
    std::thread::spawn(move || {
        let mut name = String::new();
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(n) = line.strip_prefix("event:") {
                name = n.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                let v = serde_json::from_str(d.trim()).unwrap_or(Value::Null);
                if tx.send((std::mem::take(&mut name), v)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

#[test]
fn the_server_simulates_a_draft_as_a_background_job() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("policy");
    common::copy_dir(&root().join("policies/wuhou"), &bundle);
    let officer = "officer-token";
    let config = tmp.path().join("whistle.toml");
    std::fs::write(
        &config,
        format!(
            "[[tokens]]\nname = \"olga\"\nsha256 = \"{}\"\nroles = [\"officer\", \"viewer\"]\n[[tokens]]\nname = \"vic\"\nsha256 = \"{}\"\nroles = [\"viewer\"]\n",
            common::token_hash(officer),
            common::token_hash("viewer-token")
        ),
    )
    .unwrap();
    let server = Server::start(&bundle, &tmp.path().join("data"), Some(&config));
    let stream = stream(&server, officer);
    let year = std::fs::read_to_string(root().join("examples/scenarios/wuhou-2026.yaml")).unwrap();
    let draft = std::fs::read_to_string(
        root().join("examples/scenarios/draft-short-red/policy/policy.whistle"),
    )
    .unwrap();
    let body =
        json!({"scenario": year, "files": {"policy.whistle": draft}, "events": 60000, "seed": 3});

    let (st, e) = server.post("/v1/simulate", &body, Some("viewer-token"));
    assert_eq!(st, 403, "{e}");
    let bad = json!({"scenario": year.replace("handlers: 12", "handlers: none")});
    let (st, e) = server.post("/v1/simulate", &bad, Some(officer));
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["error"]["code"], "invalid_scenario");
    assert_eq!(
        e["error"]["details"]["errors"][0]["path"],
        "capacity.levels.district.handlers"
    );
    let files = json!({"scenario": year.replace("areas: policy", "areas: {file: /etc/passwd}")});
    let (st, e) = server.post("/v1/simulate", &files, Some(officer));
    assert_eq!(st, 422, "{e}");

    let (st, started) = server.post("/v1/simulate", &body, Some(officer));
    assert_eq!(st, 202, "{started}");
    check_api_schema("SimulationStarted", &started);
    let job = started["job"].as_str().unwrap().to_string();
    // One job at a time (it takes both cores); the refusal names it.
    let (st, busy) = server.post("/v1/simulate", &body, Some(officer));
    assert_eq!(st, 409, "{busy}");
    assert_eq!(busy["error"]["details"]["job"], job.as_str(), "{busy}");
    assert!(
        busy["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("GET /v1/simulate/{job}")),
        "{busy}"
    );
    // Asked right away, the job is (almost surely) still running. Asked
    // as `0{job}`, it answers with the job's own id, running or done.
    let (st, r) = server.get(&format!("/v1/simulate/0{job}"), Some("viewer-token"));
    assert_eq!(st, 200, "{r}");
    check_api_schema("SimulationJob", &r);
    assert_eq!(r["job"], job.as_str(), "{r}");
    assert!(r["status"] == "running" || r["status"] == "done", "{r}");
    let mut progress = 0;
    let mut done = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::time::Instant::now() < deadline && !done {
        if let Ok((name, data)) = stream.recv_timeout(Duration::from_secs(1)) {
            if data["job"] != job.as_str() {
                continue;
            }
            match name.as_str() {
                "simulate_progress" => progress += 1,
                "simulate_done" => {
                    assert_eq!(data["status"], "done");
                    done = true;
                }
                _ => {}
            }
        }
    }
    assert!(done, "the job finished within two minutes");
    assert!(progress >= 1, "progress was streamed");
    let (st, r) = server.get(&format!("/v1/simulate/{job}"), Some("viewer-token"));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "done");
    check_api_schema("SimulationJob", &r);
    let report = &r["report"];
    assert!(
        report["draft"]["policy"]["version"]
            .as_str()
            .unwrap()
            .contains("draft")
    );
    assert_eq!(report["baseline"]["policy"]["version"], "2026.1");
    assert_eq!(
        report["draft"]["totals"]["events"],
        report["baseline"]["totals"]["events"]
    );
    let (st, _) = server.get("/v1/simulate/999", Some("viewer-token"));
    assert_eq!(st, 404);

    // The charts page of the finished job, as a download.
    let page = |job: &str| {
        server
            .agent
            .get(&format!("{}/v1/simulate/{job}/report.html", server.base))
            .header("authorization", "Bearer viewer-token")
            .call()
            .unwrap()
    };
    let mut res = page(&job);
    assert_eq!(res.status().as_u16(), 200);
    let header = |res: &ureq::http::Response<ureq::Body>, name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header(&res, "content-type").starts_with("text/html"));
    assert_eq!(
        header(&res, "content-disposition"),
        format!("attachment; filename=\"simulation-{job}.html\"")
    );
    let html = res.body_mut().read_to_string().unwrap();
    assert!(html.starts_with("<!doctype html>") || html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"), "the page has its charts");
    assert_eq!(page("999").status().as_u16(), 404);
    // Jobs live in memory: after a restart the old id is unknown, and a
    // new job gets an id of its own, not the old one again.
    drop(res);
    drop(server);
    let server = Server::start(&bundle, &tmp.path().join("data"), Some(&config));
    let (st, r) = server.get(&format!("/v1/simulate/{job}"), Some("viewer-token"));
    assert_eq!(st, 404, "{r}");
    let small = json!({"scenario": year, "events": 1000});
    let (st, started) = server.post("/v1/simulate", &small, Some(officer));
    assert_eq!(st, 202, "{started}");
    assert_ne!(started["job"], job.as_str(), "{started}");
}

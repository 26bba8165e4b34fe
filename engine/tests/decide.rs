//! Deciding events: each rule of LANGUAGE.md sections 3–5 on a small policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use whistle_engine::event::parse_event;
use whistle_engine::router::Router;
use whistle_engine::{Context, Policy, compile_texts, decide};

const BASE: &str = r#"
policy "t" { version "1" timezone "Asia/Shanghai" calendar workdays }
levels grid < community < street < district
calendar workdays {
  week mon..fri 09:00-12:00, 13:30-18:00
  holiday 2025-10-01..2025-10-08 "National Day"
  workday 2025-09-28
}
department urban "城管" { level street }
department police "派出所" { level street }
department fire "消防" { level street }
department grid_team "网格" { level grid }
department command "综治中心" { level district }
department civil "民政" { level street }
grades blue < yellow < red
grade blue   { level grid      respond 2h  resolve 24h }
grade yellow { level community respond 1h  resolve 48h }
grade red    { level street    respond 30m resolve 72h }
fallback { lead command grade blue }
"#;

const AREAS: &str = "districts:\n  - id: D01\n    streets:\n      - id: S01\n        communities:\n          - id: C0101\n            grids: [G1, G2]\n";

fn policy(extra: &str) -> Policy {
    compile_texts(&[
        ("base.whistle", BASE),
        ("x.whistle", extra),
        ("areas.yaml", AREAS),
    ])
    .unwrap_or_else(|e| panic!("{e}"))
}

fn ev(json: &str) -> whistle_engine::event::Event {
    parse_event(json).unwrap()
}

fn view(p: &Policy, json: &str) -> serde_json::Value {
    decide(p, &ev(json), &Context::default()).to_value(p)
}

/// What each line of a decision's trace did.
fn trace(d: &serde_json::Value) -> Vec<&str> {
    d["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["what"].as_str().unwrap())
        .collect()
}

#[test]
fn the_first_matching_grade_line_wins_and_assists_follow_the_grade() {
    let p = policy(
        r#"category noise {
          lead grid_team
          assist police when grade >= yellow
          assist police, grid_team, fire when attr.fire == true
          grade red when attr.weapon == true
          grade yellow when attr.threat == true or hour >= 22
          grade blue
        }"#,
    );
    let quiet = view(
        &p,
        r#"{"id":"1","category":"noise","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    assert_eq!(
        (
            quiet["grade"].as_str(),
            quiet["assist"].as_array().unwrap().len()
        ),
        (Some("blue"), 0)
    );
    let night = view(
        &p,
        r#"{"id":"2","category":"noise","grid":"G1","reported_at":"2025-06-03T23:00:00+08:00"}"#,
    );
    assert_eq!(night["grade"], "yellow");
    assert_eq!(night["assist"], serde_json::json!(["police"]));
    // Both lines: police once, never the lead, in order of appearance.
    let both = view(
        &p,
        r#"{"id":"3","category":"noise","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00","attr":{"weapon":true,"fire":true}}"#,
    );
    assert_eq!(both["grade"], "red");
    assert_eq!(both["assist"], serde_json::json!(["police", "fire"]));
    assert_eq!(both["level"], "street");
    assert_eq!(both["unit"], "S01");
}

#[test]
fn empowerment_puts_it_on_the_spot_only_when_its_condition_holds() {
    let p = policy(
        r#"category litter { lead grid_team grade yellow when attr.tons > 1 grade blue level community }
           empower grid { resolve litter when grade == blue and source == patrol }"#,
    );
    let patrol = view(
        &p,
        r#"{"id":"1","category":"litter","grid":"G2","source":"patrol","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    assert_eq!(
        (patrol["level"].as_str(), patrol["on_the_spot"].as_bool()),
        (Some("grid"), Some(true))
    );
    assert_eq!(patrol["unit"], "G2");
    let citizen = view(
        &p,
        r#"{"id":"2","category":"litter","grid":"G2","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    assert_eq!(
        (citizen["level"].as_str(), citizen["on_the_spot"].as_bool()),
        (Some("community"), Some(false))
    );
}

#[test]
fn a_relieved_category_that_arrives_through_the_fallback_is_raised_with_a_reason() {
    let p = policy("relieve grid { forbid tax_collection }");
    let d = view(
        &p,
        r#"{"id":"1","category":"tax_collection","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    assert_eq!(d["fallback"], true);
    assert_eq!(d["level"], "community");
    assert_eq!(d["unit"], "C0101");
    let why = trace(&d);
    assert!(
        why.iter().any(|w| w.contains("may not be handled at grid")),
        "{why:?}"
    );
}

/// Relieved at every level up to the top: it ends at the top, and the
/// trace says why it stays there.
#[test]
fn relief_at_the_top_level_is_explained_in_the_trace() {
    let p = policy(
        "relieve community { forbid mystery }\nrelieve street { forbid mystery }\nrelieve district { forbid mystery }",
    );
    let d = view(
        &p,
        r#"{"id":"1","category":"mystery","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00","attr":{}}"#,
    );
    // The fallback's blue is at the grid, which is not relieved.
    assert_eq!(d["level"], "grid");
    let p = policy(
        "relieve grid { forbid mystery }\nrelieve community { forbid mystery }\nrelieve street { forbid mystery }\nrelieve district { forbid mystery }",
    );
    let d = view(
        &p,
        r#"{"id":"1","category":"mystery","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    assert_eq!(d["level"], "district");
    let why = trace(&d);
    assert!(
        why.iter()
            .any(|w| w.contains("may not be handled at district, but it is the top level")),
        "{why:?}"
    );
}

#[test]
fn working_limits_skip_nights_weekends_and_holidays() {
    let p = policy(
        r#"category elder { lead civil grade blue limits blue { respond 2h working resolve 3d working } }"#,
    );
    let fri = view(
        &p,
        r#"{"id":"1","category":"elder","grid":"G1","reported_at":"2025-06-06T17:00:00+08:00"}"#,
    );
    assert_eq!(fri["respond_by"], "2025-06-09T10:00:00+08:00");
    assert_eq!(fri["resolve_by"], "2025-06-11T17:00:00+08:00");
    let before_holiday = view(
        &p,
        r#"{"id":"2","category":"elder","grid":"G1","reported_at":"2025-09-30T17:00:00+08:00"}"#,
    );
    assert_eq!(before_holiday["respond_by"], "2025-10-09T10:00:00+08:00");
    // The make-up Sunday is a working day.
    let sat = view(
        &p,
        r#"{"id":"3","category":"elder","grid":"G1","reported_at":"2025-09-27T10:00:00+08:00"}"#,
    );
    assert_eq!(sat["respond_by"], "2025-09-28T11:00:00+08:00");
}

#[test]
fn ladder_steps_are_planned_at_their_share_of_the_limit_in_its_own_clock() {
    let p = policy(
        r#"category elder { lead civil grade blue limits blue { respond 2h working resolve 24h } }
           escalate {
             at 50% respond -> remind
             at 200% resolve -> raise to district, notify command
             when reopened >= 2 -> raise to street
           }"#,
    );
    let d = view(
        &p,
        r#"{"id":"1","category":"elder","grid":"G1","reported_at":"2025-06-06T17:00:00+08:00"}"#,
    );
    let ladder = d["ladder"].as_array().unwrap();
    // Half of two working hours from Friday 17:00 is Friday 18:00.
    assert_eq!(ladder[0]["at"], "2025-06-06T18:00:00+08:00");
    assert_eq!(ladder[0]["step"], "at 50% respond");
    assert_eq!(ladder[1]["at"], "2025-06-08T17:00:00+08:00");
    assert_eq!(
        ladder[1]["actions"],
        serde_json::json!(["raise to district", "notify command"])
    );
    assert_eq!(ladder[2]["at"], serde_json::Value::Null);
    assert_eq!(ladder[2]["step"], "when reopened >= 2");
}

#[test]
fn a_grade_ladder_replaces_the_default() {
    let p = policy(
        r#"category fire_lane { lead urban grade red when attr.trapped > 0 grade blue }
           escalate { at 100% respond -> raise 1 }
           escalate for red { at 50% respond -> raise to district, whistle police, fire }"#,
    );
    let red = view(
        &p,
        r#"{"id":"1","category":"fire_lane","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00","attr":{"trapped":2}}"#,
    );
    assert_eq!(red["ladder"][0]["at"], "2025-06-03T10:15:00+08:00");
    assert_eq!(
        red["ladder"][0]["actions"],
        serde_json::json!(["raise to district", "whistle police, fire"])
    );
    assert_eq!(red["ladder"].as_array().unwrap().len(), 1);
    let blue = view(
        &p,
        r#"{"id":"2","category":"fire_lane","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    assert_eq!(blue["ladder"][0]["step"], "at 100% respond");
}

#[test]
fn repeats_count_by_location_or_by_grid() {
    let p = policy(
        r#"category lamp { lead urban grade red when repeats(30d, grid) >= 3 grade yellow when repeats(7d) >= 2 grade blue }"#,
    );
    let mut r = Router::new(&p);
    let mut grade = |json: &str| {
        r.route_line(json).unwrap().to_value(&p)["grade"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let line = |id: u32, day: u32, loc: &str| {
        format!(
            r#"{{"id":"{id}","category":"lamp","grid":"G1","location":"{loc}","reported_at":"2025-06-{day:02}T10:00:00+08:00"}}"#
        )
    };
    assert_eq!(grade(&line(1, 1, "a")), "blue");
    assert_eq!(grade(&line(2, 2, "a")), "blue");
    assert_eq!(
        grade(&line(3, 3, "a")),
        "yellow",
        "two earlier at the same place within 7 days"
    );
    assert_eq!(
        grade(&line(4, 20, "b")),
        "red",
        "three earlier in the same grid within 30 days"
    );
}

const LAMP_LATE: &str = r#"category lamp { lead urban grade yellow when repeats(7d) >= 1 grade blue }
test "late" {
  event { "category": "lamp", "grid": "G1", "location": "a", "reported_at": "2025-06-01T10:00:00+08:00" }
  event { "category": "lamp", "grid": "G1", "location": "b", "reported_at": "2025-06-09T10:00:00+08:00" }
  event { "category": "lamp", "grid": "G1", "location": "a", "reported_at": "2025-06-03T10:00:00+08:00" }
  expect { grade: yellow }
}"#;

/// Routing a file, and a policy's test block: an event reported days
/// before the latest one already seen (a device offline for days) still
/// sees every earlier event of its window.
#[test]
fn a_late_event_sees_the_earlier_ones_of_its_window() {
    let p = policy(LAMP_LATE);
    let line = |id: u32, day: u32, loc: &str| {
        format!(
            r#"{{"id":"{id}","category":"lamp","grid":"G1","location":"{loc}","reported_at":"2025-06-{day:02}T10:00:00+08:00"}}"#
        )
    };
    let mut r = Router::new(&p);
    for (id, day, loc) in [(1, 1, "a"), (2, 9, "b")] {
        r.route_line(&line(id, day, loc)).unwrap();
    }
    let late = r.route_line(&line(3, 3, "a")).unwrap().to_value(&p);
    assert_eq!(late["grade"], "yellow", "{late}");
    let c = with_base(LAMP_LATE);
    assert_eq!(c.tests.len(), 1);
    let results = whistle_engine::testing::run_tests(&p, &c.tests);
    assert!(results.iter().all(|t| t.passed()), "{results:?}");
}

#[test]
fn missing_fields_and_mismatched_types_are_false_not_errors() {
    let p = policy(
        r#"category c { lead urban grade red when attr.n > 0 or attr.s == "x" grade blue }"#,
    );
    for attr in [
        r#"{}"#,
        r#"{"n":"none"}"#,
        r#"{"n":null,"s":1}"#,
        r#"{"n":[1],"s":{"x":1}}"#,
    ] {
        let d = view(
            &p,
            &format!(
                r#"{{"id":"1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00","attr":{attr}}}"#
            ),
        );
        assert_eq!(d["grade"], "blue", "{attr}");
    }
}

#[test]
fn without_an_area_tree_the_unit_is_null() {
    let p = compile_texts(&[
        ("base.whistle", BASE),
        ("x.whistle", "category c { lead urban grade blue }"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let d = view(
        &p,
        r#"{"id":"1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    assert_eq!(d["unit"], serde_json::Value::Null);
    assert_eq!(d["level"], "grid");
}

#[test]
fn attr_is_validated_against_the_bundle_schema_when_there_is_one() {
    let schema =
        r#"{"type":"object","properties":{"n":{"type":"integer"}},"additionalProperties":false}"#;
    let p = compile_texts(&[
        ("base.whistle", BASE),
        (
            "x.whistle",
            "category c { lead urban grade red when attr.n > 1 grade blue }",
        ),
        ("event.schema.json", schema),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let mut r = Router::new(&p);
    assert!(r.route_line(r#"{"id":"1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00","attr":{"n":2}}"#).is_ok());
    let err = r
        .route_line(r#"{"id":"2","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00","attr":{"n":"x"}}"#)
        .unwrap_err();
    // Named from the event: the field is `attr.n`, not `n`.
    assert!(
        err.0
            .ends_with("`attr.n`: value is not of type \"integer\""),
        "{err}"
    );
}

/// A line that is JSON but not one object is told what an event is, and
/// an array how several are sent, not the schema's "not of type object".
#[test]
fn a_value_that_is_not_an_object_is_told_what_an_event_is() {
    let err = parse_event(r#"[{"id":"1","category":"c","grid":"G1"}]"#).unwrap_err();
    assert!(
        err.0.contains("not an array") && err.0.contains(r#"`{"events": [...]}`"#),
        "{err}"
    );
    for (text, what) in [
        ("5", "not a number"),
        ("\"e\"", "not a string"),
        ("null", "not `null`"),
    ] {
        let err = parse_event(text).unwrap_err();
        assert!(
            err.0.starts_with("an event is one JSON object") && err.0.ends_with(what),
            "{text}: {err}"
        );
    }
}

/// Paths the schema defines through a reference or a pattern are known to
/// `check` as they are to the validator; a path it does not define is
/// still an error, and a type read through a reference still checked.
#[test]
fn attr_paths_defined_by_references_and_patterns_are_known() {
    let schema = r##"{"type":"object",
        "$defs":{"info":{"type":"object","properties":{"level":{"type":"integer"}},"additionalProperties":false}},
        "properties":{"info":{"$ref":"#/$defs/info"},"any":{"anyOf":[{"type":"object"}]}},
        "patternProperties":{"^x_":{"type":"integer"}},
        "additionalProperties":false}"##;
    let compiled = |cond: &str| {
        compile_texts(&[
            ("base.whistle", BASE),
            (
                "x.whistle",
                &format!("category c {{ lead urban grade red when {cond} grade blue }}"),
            ),
            ("event.schema.json", schema),
        ])
    };
    for good in [
        "attr.info.level > 1",
        "attr.x_1 == 2",
        "attr.any.whatever == 1",
    ] {
        if let Err(e) = compiled(good) {
            panic!("{good}: {e}");
        }
    }
    for (bad, said) in [
        ("attr.info.nope > 1", "`attr.info.nope` is not defined"),
        ("attr.y_1 == 2", "`attr.y_1` is not defined"),
    ] {
        let err = compiled(bad).unwrap_err();
        assert!(err.contains("E0601") && err.contains(said), "{bad}: {err}");
    }
    // The type behind the reference: an integer compared with a string.
    let err = compiled("attr.info.level == \"high\"").unwrap_err();
    assert!(
        err.contains("E0602") && err.contains("`attr.info.level` is integer"),
        "{err}"
    );
}

/// A schema that is not one is the error, alone: every `attr` path it
/// would be checked against is not reported as a symptom of it.
#[test]
fn an_invalid_attr_schema_is_reported_alone() {
    let err = compile_texts(&[
        ("base.whistle", BASE),
        (
            "x.whistle",
            "category c { lead urban grade red when attr.n > 1 or attr.m == 2 grade blue }",
        ),
        ("event.schema.json", r#"{"type":"nonsense"}"#),
    ])
    .unwrap_err();
    assert!(err.contains("E0903"), "{err}");
    assert!(!err.contains("E0601"), "{err}");
}

#[test]
fn the_fast_json_writer_writes_exactly_what_the_view_serialises() {
    let p = policy(
        r#"category fire_lane "消防\"通道" { lead urban assist police, fire when grade >= yellow grade red when attr.trapped > 0 grade blue limits blue { respond 2h working resolve 3d working } }
           escalate { at 50% respond -> remind at 200% resolve -> raise to district, notify command when reopened >= 2 -> raise to street }
           escalate for red { at 50% respond -> raise to district, whistle police, fire }"#,
    );
    let events = [
        r#"{"id":"a\"1","category":"fire_lane","grid":"G1","reported_at":"2025-06-06T17:00:00+08:00"}"#,
        r#"{"id":"2","category":"fire_lane","grid":"G9","reported_at":"2025-06-06T17:00:00Z","attr":{"trapped":1}}"#,
        r#"{"id":"3","category":"不明","grid":"G2","reported_at":"2025-10-01T00:00:00+08:00"}"#,
    ];
    for e in events {
        let d = decide(&p, &ev(e), &Context::default());
        let mut fast = Vec::new();
        d.write_json(&p, &mut fast).unwrap();
        let slow = serde_json::to_vec(&d.view(&p)).unwrap();
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(slow).unwrap()
        );
    }
}

/// `repeats` asks about the event's own category: a category's own lines
/// make only it asked about, the fallback's the undeclared ones, and a
/// condition outside every category (here a ladder's) all of them.
#[test]
fn the_categories_repeats_is_asked_about() {
    let p = policy(
        r#"category lamp { lead urban grade yellow when repeats(7d) >= 2 grade blue }
           category noise { lead police grade blue }"#,
    );
    let a = &p.repeats_asked;
    assert!(a.asks("lamp"));
    assert!(!a.asks("noise"), "no condition of noise reads repeats");
    assert!(!a.asks("not_declared"), "the fallback reads none");
    assert_eq!(p.max_repeats_window, 7 * 86_400);

    let everywhere = policy(
        r#"category lamp { lead urban grade blue }
           escalate { when repeats(30d) >= 1 -> remind }"#,
    );
    let a = &everywhere.repeats_asked;
    assert!(a.asks("lamp") && a.asks("not_declared"));
    assert_eq!(everywhere.max_repeats_window, 30 * 86_400);
    assert!(a.covers(&p.repeats_asked));
    assert!(
        !p.repeats_asked.covers(a),
        "noise is asked about only by the second"
    );
}

/// A grouping is asked only of the categories whose conditions read it
/// (and of all, when a condition outside every category does): a history
/// that keeps a grouping for fewer categories does not cover one that
/// needs it for more.
#[test]
fn the_groupings_repeats_is_asked_by() {
    use whistle_engine::cond::RepeatsBy;
    let src = |lamp_by: &str, outside: &str| {
        format!(
            r#"category lamp {{ lead urban grade yellow when repeats(1d{lamp_by}) >= 2 grade blue }}
               category noise {{ lead police grade yellow when repeats(7d) >= 2 grade blue }}
               {outside}"#
        )
    };
    let p = policy(&src(", grid", ""));
    let a = &p.repeats_asked;
    let grid = RepeatsBy::Level(0);
    assert!(a.groupings("lamp").has(grid));
    assert!(!a.groupings("lamp").has(RepeatsBy::Location));
    assert!(a.groupings("noise").has(RepeatsBy::Location));
    assert!(!a.groupings("noise").has(grid), "only lamp reads by grid");
    assert!(a.groupings("not_declared").is_empty());

    let by_location = policy(&src("", ""));
    assert!(!by_location.repeats_asked.covers(a), "lamp by grid is new");
    assert!(
        !a.covers(&by_location.repeats_asked),
        "lamp by location is new"
    );

    let outside = policy(&src(
        ", grid",
        "escalate { when repeats(30d, grid) >= 1 -> remind }",
    ));
    let o = &outside.repeats_asked;
    assert!(o.groupings("noise").has(grid) && o.groupings("other").has(grid));
    assert!(o.covers(a) && !a.covers(o));
}

/// A test's deadline that misses is quoted as the test wrote it, so that
/// the officer finds it in the file; the policy's own reading is beside it
/// only where it is written otherwise.
#[test]
fn a_missed_deadline_is_quoted_as_the_test_wrote_it() {
    let lamp = r#"category lamp { lead urban grade blue }
test "utc" {
  event { "category": "lamp", "grid": "G1", "reported_at": "2025-06-03T10:00:00+08:00" }
  expect { resolve_by: "2025-06-03T02:00:00Z", respond_by: "2025-06-03T10:01:00+08:00" }
}"#;
    let p = policy(lamp);
    let c = with_base(lamp);
    let results = whistle_engine::testing::run_tests(&p, &c.tests);
    let failures = &results[0].failures;
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures[0].contains(
            "resolve_by: expected 2025-06-03T02:00:00Z (2025-06-03T10:00:00+08:00 in the policy's time zone), got "
        ),
        "{failures:?}"
    );
    assert!(
        failures[1].contains("respond_by: expected 2025-06-03T10:01:00+08:00, got "),
        "{failures:?}"
    );
}

/// `extra` compiled with the base policy and its area tree, test blocks
/// and all.
fn with_base(extra: &str) -> whistle_engine::Compiled {
    let files: Vec<whistle_grammar::bundle::BundleFile> = [
        ("base.whistle", BASE),
        ("x.whistle", extra),
        ("areas.yaml", AREAS),
    ]
    .into_iter()
    .map(|(path, text)| whistle_grammar::bundle::BundleFile {
        path: path.into(),
        bytes: text.as_bytes().to_vec(),
    })
    .collect();
    whistle_engine::compile(&whistle_grammar::bundle::from_files(files))
}

/// A working limit longer than the working time left before the end of
/// the instants Whistle handles runs out at that end, as a plain limit
/// that long does: never before a shorter limit's deadline.
#[test]
fn a_working_limit_past_year_9999_runs_out_at_the_end_of_time() {
    let p = policy(
        "category c { lead urban grade blue limits blue { respond 10000000h working resolve 20000000h working } }",
    );
    let d = view(
        &p,
        r#"{"id":"1","category":"c","grid":"G1","reported_at":"2025-06-03T10:00:00+08:00"}"#,
    );
    let (respond, resolve) = (
        d["respond_by"].as_str().unwrap().to_string(),
        d["resolve_by"].as_str().unwrap().to_string(),
    );
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    assert!(at(&respond) < at(&resolve), "{respond} {resolve}");
    assert!(resolve.starts_with("9999-12-31T"), "{resolve}");
}

//! The diff module: semantic diff in words, text diff, and the impact of a
//! change on a known set of events (every number checked by hand below).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use whistle_engine::diff::{
    self, ChangeKind, Field, ImpactBuilder, ImpactOptions, Section, semantic, semantic_with_sources,
};
use whistle_engine::event::{Event, parse_event};
use whistle_engine::{Policy, compile};
use whistle_grammar::bundle::{Bundle, BundleFile, from_files};
use whistle_grammar::diag::render;

const BASE: &str = r#"
policy "t" { version "1" timezone "Asia/Shanghai" calendar workdays }
levels grid < community < street < district
calendar workdays {
  week mon..fri 09:00-12:00, 13:30-18:00
  holiday 2025-10-01..2025-10-07 "National Day"
  workday 2025-09-28 "make-up day"
}
department urban "城管" { level street }
department police "派出所" { level street }
department fire "消防" { level street }
department grid_team "网格" { level grid }
department command "综治中心" { level district }
grades blue < yellow < red
grade blue   { level grid      respond 2h  resolve 24h }
grade yellow { level community respond 1h  resolve 48h }
grade red    { level street    respond 30m resolve 72h }
fallback { lead command grade blue }
"#;

const AREAS: &str = "districts:\n  - id: D01\n    streets:\n      - id: S01\n        communities:\n          - id: C0101\n            grids: [G1, G2]\n";

const OLD: &str = r#"
category noise { lead urban  grade yellow when repeats(7d) >= 2  grade blue }
category fire_lane {
  lead urban
  assist fire
  grade red when attr.people_trapped > 0
  grade blue
  limits red { respond 15m resolve 12h }
}
"#;

const NEW: &str = r#"
category noise { lead police  grade yellow when repeats(7d) >= 1  grade blue }
category fire_lane {
  lead urban
  assist fire, police
  grade red when attr.people_trapped > 0
  grade blue
  limits red { respond 15m resolve 6h }
}
category litter { lead grid_team  grade blue }
"#;

fn bundle(base: &str, extra: &str) -> Bundle {
    from_files(vec![
        BundleFile {
            path: "base.whistle".into(),
            bytes: base.into(),
        },
        BundleFile {
            path: "x.whistle".into(),
            bytes: extra.as_bytes().to_vec(),
        },
        BundleFile {
            path: "areas.yaml".into(),
            bytes: AREAS.into(),
        },
    ])
}

fn policy(b: &Bundle) -> Policy {
    let c = compile(b);
    let errors: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    assert!(errors.is_empty(), "{}", render(&errors, &b.sources, false));
    c.policy.unwrap()
}

fn pair(old: &str, new: &str) -> (Policy, Policy) {
    (policy(&bundle(BASE, old)), policy(&bundle(BASE, new)))
}

fn events() -> Vec<Event> {
    [
        r#"{"id":"N1","category":"noise","grid":"G1","location":"A","reported_at":"2025-06-02T10:00:00+08:00"}"#,
        r#"{"id":"N2","category":"noise","grid":"G1","location":"A","reported_at":"2025-06-03T10:00:00+08:00"}"#,
        r#"{"id":"N3","category":"noise","grid":"G1","location":"A","reported_at":"2025-06-04T10:00:00+08:00"}"#,
        r#"{"id":"F1","category":"fire_lane","grid":"G1","reported_at":"2025-06-04T11:00:00+08:00","attr":{"people_trapped":1}}"#,
        r#"{"id":"F2","category":"fire_lane","grid":"G2","reported_at":"2025-06-04T12:00:00+08:00"}"#,
        r#"{"id":"L1","category":"litter","grid":"G2","reported_at":"2025-06-05T09:00:00+08:00"}"#,
        r#"{"id":"U1","category":"pigeons","grid":"G2","reported_at":"2025-06-05T09:30:00+08:00"}"#,
    ]
    .iter()
    .map(|l| parse_event(l).unwrap())
    .collect()
}

#[test]
fn the_semantic_diff_reads_as_words() {
    let (old, new) = pair(OLD, NEW);
    let d = semantic(&old, &new);
    assert_eq!(
        d.to_string(),
        "categories:\n\
         \x20 fire_lane: assist fire → fire, police; red resolve 12h → 6h\n\
         \x20 litter: added: lead grid_team; grade blue\n\
         \x20 noise: lead urban → police; grade yellow when repeats(7d) >= 2 → yellow when repeats(7d) >= 1\n"
    );
    assert_eq!(d.len(), 5);
    let lead = &d.changes[3];
    assert_eq!(
        (lead.section, lead.subject.as_str(), lead.aspect.as_str()),
        (Section::Categories, "noise", "lead")
    );
    assert_eq!(lead.change, ChangeKind::Changed);
    assert_eq!(
        (lead.old.as_deref(), lead.new.as_deref()),
        (Some("urban"), Some("police"))
    );
    // The JSON form names section, subject, aspect and change.
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["changes"][3]["section"], "categories");
    assert_eq!(v["changes"][3]["change"], "changed");
    assert_eq!(v["changes"][2]["change"], "added");
    assert_eq!(v["old"]["name"], "t");
}

#[test]
fn the_same_meaning_in_another_layout_is_no_change() {
    let reordered = r#"
category fire_lane { limits red { resolve 12h respond 15m }  lead urban  assist fire
  grade red when (attr.people_trapped>0)  grade blue }
# a comment
category noise { grade yellow when repeats(168h) >= 2  grade blue  lead urban }
"#;
    let (a, b) = (bundle(BASE, OLD), bundle(BASE, reordered));
    let (pa, pb) = (policy(&a), policy(&b));
    let d = semantic_with_sources(&pa, &pb, &a, &b);
    assert!(d.is_empty(), "{d}");
    assert_eq!(d.to_string(), "no change in meaning\n");
    let t = diff::text(&a, &b);
    assert_eq!(t.files.len(), 1);
    assert_eq!(t.files[0].path, "x.whistle");
    assert!(
        t.files[0]
            .unified
            .starts_with("--- a/x.whistle\n+++ b/x.whistle\n@@")
    );
    // The same bundle twice: nothing at all.
    assert!(diff::text(&a, &a).is_empty());
    assert!(semantic(&pa, &pa).is_empty());
}

#[test]
fn the_calendar_is_named_from_the_sources() {
    let cal = BASE
        .replace("2025-10-01..2025-10-07", "2025-10-01..2025-10-08")
        .replace("  workday 2025-09-28 \"make-up day\"\n", "")
        .replace("13:30-18:00", "14:00-18:00");
    let (a, b) = (bundle(BASE, OLD), bundle(&cal, OLD));
    let (pa, pb) = (policy(&a), policy(&b));
    let words = semantic_with_sources(&pa, &pb, &a, &b).to_string();
    assert_eq!(
        words,
        "calendar:\n\
         \x20 hours mon..fri 09:00-12:00, 13:30-18:00 → 09:00-12:00, 14:00-18:00; \
         holiday added: 2025-10-08 National Day; \
         make-up working day removed: 2025-09-28 make-up day\n"
    );
    // Without the sources the change is still seen, only not named.
    let compiled = semantic(&pa, &pb);
    assert_eq!(compiled.len(), 1);
    assert_eq!(compiled.changes[0].section, Section::Calendar);
    assert!(compiled.to_string().contains("working time changed"));
}

#[test]
fn the_text_diff_marks_added_and_removed_files() {
    let a = bundle(BASE, OLD);
    let mut files = vec![
        BundleFile {
            path: "base.whistle".into(),
            bytes: BASE.into(),
        },
        BundleFile {
            path: "categories/new.whistle".into(),
            bytes: OLD.into(),
        },
    ];
    files.push(BundleFile {
        path: "areas.yaml".into(),
        bytes: AREAS.into(),
    });
    let b = from_files(files);
    let t = diff::text(&a, &b);
    let got: Vec<(&str, ChangeKind)> = t
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.change))
        .collect();
    assert_eq!(
        got,
        [
            ("categories/new.whistle", ChangeKind::Added),
            ("x.whistle", ChangeKind::Removed)
        ]
    );
    assert!(
        t.files[0]
            .unified
            .starts_with("--- /dev/null\n+++ b/categories/new.whistle\n")
    );
    assert!(t.files[1].unified.contains("+++ /dev/null\n"));
    let lines = OLD.lines().count();
    assert_eq!((t.files[0].added, t.files[0].removed), (lines, 0));
    let colored = t.render(true);
    assert!(colored.contains("\x1b[32m+category noise"));
    assert!(!t.render(false).contains('\x1b'));
}

#[test]
fn impact_on_a_known_event_set() {
    let (old, new) = pair(OLD, NEW);
    let evs = events();
    let i = diff::impact(&old, &new, &evs, &ImpactOptions::default());
    // N1: lead. N2: lead, grade blue → yellow (its second repeat), level,
    // unit, both deadlines. N3: lead (yellow under both). F1: assist and the
    // red resolve limit. F2: assist. L1: fallback → litter. U1: unchanged.
    assert_eq!((i.events, i.changed), (7, 6));
    let c = i.changes;
    assert_eq!(
        [
            c.grade,
            c.lead,
            c.assist,
            c.level,
            c.unit,
            c.on_the_spot,
            c.fallback,
            c.respond_by,
            c.resolve_by
        ],
        [1, 4, 2, 1, 1, 0, 1, 1, 2]
    );
    let cats: Vec<(&str, u64, u64)> = i
        .categories
        .iter()
        .map(|c| (c.category.as_str(), c.events, c.changed))
        .collect();
    assert_eq!(
        cats,
        [
            ("noise", 3, 3),
            ("fire_lane", 2, 2),
            ("litter", 1, 1),
            ("pigeons", 1, 0)
        ]
    );
    let shifts = |v: &[diff::Shift]| -> Vec<(String, String, u64)> {
        v.iter()
            .map(|s| (s.old.clone(), s.new.clone(), s.events))
            .collect()
    };
    let s = |a: &str, b: &str, n| (a.to_string(), b.to_string(), n);
    assert_eq!(shifts(&i.shifts.grade), [s("blue", "yellow", 1)]);
    assert_eq!(
        shifts(&i.shifts.lead),
        [s("urban", "police", 3), s("command", "grid_team", 1)]
    );
    assert_eq!(shifts(&i.shifts.level), [s("grid", "community", 1)]);

    // Deadline load: urban led N1–N3, F1, F2 (24+24+48+12+24 h) and keeps
    // F1, F2 (6+24 h); police takes the noise (24+48+48 h) and assists the
    // fire lanes; command keeps only the unknown category. Fire assists
    // both fire lanes under both policies: its load does not change, and
    // it is not listed.
    let load: Vec<(&str, [u64; 4], [f64; 2])> = i
        .departments
        .iter()
        .map(|d| {
            (
                d.department.as_str(),
                [d.led.old, d.led.new, d.assisted.old, d.assisted.new],
                [d.resolve_hours.old, d.resolve_hours.new],
            )
        })
        .collect();
    assert_eq!(
        load,
        [
            ("police", [0, 3, 0, 2], [0.0, 120.0]),
            ("urban", [5, 2, 0, 0], [132.0, 30.0]),
            ("command", [2, 1, 0, 0], [48.0, 24.0]),
            ("grid_team", [0, 1, 0, 0], [0.0, 24.0]),
        ]
    );

    // Examples: the events in input order, old → new, deadlines with their move.
    let noise = &i.categories[0];
    let lead: Vec<&str> = noise
        .examples
        .iter()
        .filter(|e| e.field == Field::Lead)
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(lead, ["N1", "N2", "N3"]);
    let respond = noise
        .examples
        .iter()
        .find(|e| e.field == Field::RespondBy)
        .unwrap();
    assert_eq!(respond.event_id, "N2");
    assert_eq!(respond.old.as_deref(), Some("2025-06-03T12:00:00+08:00"));
    assert_eq!(respond.new.as_deref(), Some("2025-06-03T11:00:00+08:00"));
    assert_eq!(respond.shift_seconds, Some(-3600));
    let unit = noise
        .examples
        .iter()
        .find(|e| e.field == Field::Unit)
        .unwrap();
    assert_eq!(
        (unit.old.as_deref(), unit.new.as_deref()),
        (Some("G1"), Some("C0101"))
    );

    // The report names the same numbers.
    let text = i.to_string();
    assert!(
        text.starts_with("7 events decided under both policies; 6 (85.7%) decided differently\n"),
        "{text}"
    );
    let moves: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| *l != "moves")
        .skip(2)
        .take(4)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(moves[1], ["lead", "urban", "→", "police", "3"], "{text}");
    assert!(
        text.contains(
            "N2  resolve_by 2025-06-04T10:00:00+08:00 → 2025-06-05T10:00:00+08:00 (+24h)"
        ),
        "{text}"
    );
}

#[test]
fn fewer_examples_when_asked_and_batches_equal_single_events() {
    let (old, new) = pair(OLD, NEW);
    let evs = events();
    let one = diff::impact(&old, &new, &evs, &ImpactOptions { examples: 1 });
    let noise_leads = one.categories[0]
        .examples
        .iter()
        .filter(|e| e.field == Field::Lead)
        .count();
    assert_eq!(noise_leads, 1);
    let mut b = ImpactBuilder::new(&old, &new, ImpactOptions { examples: 1 });
    for e in &evs {
        b.add(e);
    }
    assert_eq!(b.finish(), one);
    let mut b = ImpactBuilder::new(&old, &new, ImpactOptions { examples: 1 });
    b.add_batch(&evs[..2]);
    b.add_batch(&evs[2..]);
    assert_eq!(b.finish(), one);
}

#[test]
fn each_policy_keeps_its_own_history_and_schema() {
    // The new policy's schema rejects a string count of trapped people:
    // that event is neither decided nor remembered by it, and not compared.
    let schema = r#"{"type":"object","properties":{"people_trapped":{"type":"integer"}}}"#;
    let a = bundle(BASE, OLD);
    let mut files: Vec<BundleFile> = vec![
        BundleFile {
            path: "base.whistle".into(),
            bytes: BASE.into(),
        },
        BundleFile {
            path: "x.whistle".into(),
            bytes: OLD.into(),
        },
        BundleFile {
            path: "event.schema.json".into(),
            bytes: schema.into(),
        },
    ];
    files.push(BundleFile {
        path: "areas.yaml".into(),
        bytes: AREAS.into(),
    });
    let (old, new) = (policy(&a), policy(&from_files(files)));
    let evs: Vec<Event> = [
        r#"{"id":"F1","category":"fire_lane","grid":"G1","reported_at":"2025-06-04T11:00:00+08:00","attr":{"people_trapped":"many"}}"#,
        r#"{"id":"F2","category":"fire_lane","grid":"G1","reported_at":"2025-06-04T12:00:00+08:00","attr":{"people_trapped":2}}"#,
    ]
    .iter()
    .map(|l| parse_event(l).unwrap())
    .collect();
    let i = diff::impact(&old, &new, &evs, &ImpactOptions::default());
    assert_eq!((i.rejected.old, i.rejected.new), (0, 1));
    assert_eq!((i.events, i.changed), (1, 0));
    assert!(
        i.to_string()
            .contains("rejected by the policy's event.schema.json: old 0, new 1")
    );
    // Which event, and why: what a stricter schema would refuse.
    assert_eq!(i.rejected_first.len(), 1, "{i}");
    assert_eq!(
        (
            i.rejected_first[0].by,
            i.rejected_first[0].event_id.as_str()
        ),
        ("new", "F1")
    );
    assert!(
        i.to_string()
            .contains(&format!("  new rejects F1: {}", i.rejected_first[0].reason)),
        "{i}"
    );
    assert!(
        i.rejected_first[0].reason.contains("attr.people_trapped"),
        "{i}"
    );
    // The load table says its two columns count different events.
    assert!(
        i.to_string().contains(
            "each policy's column counts the events it accepts: 0 rejected by the old, 1 by the new"
        ),
        "{i}"
    );
    // Each side's load counts what that policy decided: the old one F1
    // (blue: a string is not > 0, 24h) and F2 (red, the category's 12h).
    let urban = i
        .departments
        .iter()
        .find(|d| d.department == "urban")
        .unwrap();
    assert_eq!((urban.led.old, urban.led.new), (2, 1));
    assert_eq!(
        (urban.resolve_hours.old, urban.resolve_hours.new),
        (36.0, 12.0)
    );
}

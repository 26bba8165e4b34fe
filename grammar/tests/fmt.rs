//! The canonical formatter: golden files, idempotence, meaning and comment
//! preservation over every fixture and every policy file found, and a
//! property test over generated policies.
//!
//! Golden files: `tests/fmt/NAME.whistle` formats to exactly
//! `tests/fmt/NAME.formatted.whistle`. Run with `UPDATE_GOLDEN=1` to rewrite
//! the expected files (then review the diff).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use unicode_width::UnicodeWidthStr;
use whistle_grammar::fmt::{format_source, is_formatted};
use whistle_grammar::parse::parse_file;
use whistle_grammar::source::FileId;

// ---------------------------------------------------------------------------
// Helpers.

/// The tree of `text` rendered without spans (and without the raw JSON text
/// of test events, whose parsed value stays in the rendering), so that two
/// texts that mean the same compare equal.
fn meaning(text: &str) -> String {
    let (file, diags) = parse_file(FileId(0), text);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics: {diags:?}\n{text}"
    );
    erase_spans(&format!("{file:?}"))
}

/// Removes every `Span { .. }` and every `json: "..", ` field from a Debug
/// rendering of the tree.
fn erase_spans(debug: &str) -> String {
    const SPAN: &str = "Span { file: FileId(";
    const JSON: &str = "json: \"";
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    loop {
        let next_span = rest.find(SPAN);
        let next_json = rest.find(JSON);
        match (next_span, next_json) {
            (Some(s), j) if j.is_none_or(|j| s < j) => {
                out.push_str(&rest[..s]);
                let close = rest[s..].find('}').expect("a span ends with `}`");
                out.push_str("Span");
                rest = &rest[s + close + 1..];
            }
            (_, Some(j)) => {
                out.push_str(&rest[..j]);
                let body = &rest[j + JSON.len()..];
                let mut escaped = false;
                let mut end = body.len();
                for (k, c) in body.char_indices() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => {
                            end = k;
                            break;
                        }
                        _ => {}
                    }
                }
                out.push_str("json");
                rest = &body[(end + 1).min(body.len())..];
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// Every `#` comment of `text` (outside strings), trailing whitespace
/// removed, sorted. Written independently of the formatter's own scanner.
fn comments(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut in_string = false;
    while let Some((i, c)) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next_if(|&(_, n)| n != '\n');
                }
                '"' | '\n' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == '#' {
            let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            found.push(text[i..end].trim_end().to_string());
            while chars.next_if(|&(k, _)| k < end).is_some() {}
        }
    }
    found.sort();
    found
}

/// Formats `text` and checks everything the formatter promises. Returns the
/// formatted text, or `None` if the text does not parse (then the formatter
/// must refuse it too).
fn check(name: &str, text: &str) -> Option<String> {
    let (_, diags) = parse_file(FileId(0), text);
    if diags.iter().any(|d| d.is_error()) {
        assert!(
            format_source(text).is_err(),
            "{name}: formatted a broken file"
        );
        return None;
    }
    let once = format_source(text).unwrap_or_else(|d| panic!("{name}: {d:?}"));
    let twice = format_source(&once).unwrap_or_else(|d| panic!("{name}: reformat: {d:?}\n{once}"));
    assert_eq!(once, twice, "{name}: not idempotent");
    assert_eq!(is_formatted(&once), Ok(true), "{name}");
    assert_eq!(
        meaning(text),
        meaning(&once),
        "{name}: meaning changed\n{once}"
    );
    assert_eq!(
        comments(text),
        comments(&once),
        "{name}: comments changed\n{once}"
    );
    for (n, line) in once.lines().enumerate() {
        assert_eq!(
            line,
            line.trim_end(),
            "{name}:{}: trailing whitespace",
            n + 1
        );
    }
    assert!(
        once.is_empty() || once.ends_with('\n') && !once.ends_with("\n\n"),
        "{name}: file end"
    );
    assert!(!once.contains("\n\n\n"), "{name}: two blank lines");
    Some(once)
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt")
}

/// Every `*.whistle` file below `dir` (recursively), sorted; none if `dir`
/// does not exist.
fn whistle_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "whistle") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// Golden files and corpora.

#[test]
fn golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let inputs: Vec<PathBuf> = whistle_files(&fixture_dir())
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".formatted.whistle"))
        .collect();
    assert!(inputs.len() >= 5, "fixtures missing: {inputs:?}");
    for input in inputs {
        let name = input.display().to_string();
        let text = std::fs::read_to_string(&input).unwrap();
        let got = check(&name, &text).unwrap_or_else(|| panic!("{name}: does not parse"));
        let expected_path = input.with_extension("formatted.whistle");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        assert!(
            got == expected,
            "{name}: output differs from {}\n--- got ---\n{got}--- expected ---\n{expected}",
            expected_path.display()
        );
    }
}

#[test]
fn expected_files_are_already_formatted() {
    for p in whistle_files(&fixture_dir()) {
        if p.to_string_lossy().ends_with(".formatted.whistle") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert_eq!(is_formatted(&text), Ok(true), "{}", p.display());
            check(&p.display().to_string(), &text);
        }
    }
}

#[test]
fn policy_bundles_and_conformance_cases_round_trip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["policies", "../shared/conformance/cases"] {
        for p in whistle_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&p).unwrap();
            check(&p.display().to_string(), &text);
        }
    }
}

// ---------------------------------------------------------------------------
// The checks themselves can fail.

#[test]
fn the_meaning_comparison_sees_changes_but_not_spans() {
    let same = [
        ("levels a < b", "levels   a<b\n"),
        ("grade r { level x }", "grade r {\n  level x\n}"),
        (
            "test \"t\" { event {\"a\":1} }",
            "test \"t\" {\n  event { \"a\": 1 }\n}",
        ),
    ];
    for (a, b) in same {
        assert_eq!(meaning(a), meaning(b), "{a:?} vs {b:?}");
    }
    let different = [
        ("target a >= 90%", "target a >= 91%"),
        ("target a >= 0.5", "target a >= 0.50"),
        (
            "category c { grade r when (attr.a) }",
            "category c { grade r when attr.a }",
        ),
        (
            "category c { grade r when attr.a not in [x] }",
            "category c { grade r when attr.a in [x] }",
        ),
        (
            "category c { lead a  grade r }",
            "category c { grade r  lead a }",
        ),
        (
            "category c { grade r when a or b and c }",
            "category c { grade r when (a or b) and c }",
        ),
        ("department d", "department d {}"),
        ("department d \"x\"", "department d \"y\""),
        ("grade g { respond 2h }", "grade g { respond 2h working }"),
        (
            "test \"t\" { event {\"a\":1} }",
            "test \"t\" { event {\"a\":2} }",
        ),
        (
            "calendar c { holiday 2025-10-01..2025-10-08 }",
            "calendar c { holiday 2025-10-01..2025-10-09 }",
        ),
    ];
    for (a, b) in different {
        assert_ne!(meaning(a), meaning(b), "{a:?} vs {b:?}");
    }
    assert_ne!(comments("# a\nlevels a"), comments("# b\nlevels a"));
    assert_eq!(
        comments("levels a # x \"y\"\ngrades \"#\" # z"),
        ["# x \"y\"", "# z"]
    );
}

#[test]
fn broken_files_are_refused() {
    let diags = format_source("category c {\n  lead\n").unwrap_err();
    assert!(diags.iter().any(|d| d.is_error()));
    assert!(format_source("grade g { respond 1h } }").is_err());
    assert!(format_source("policy \"p\" { effective 2025-02-30 }").is_err());
}

/// A lone `\r` (old Mac line ends) ends a comment for `fmt` as it does for
/// `check`: the code after it stays code, where it was, and the `\r`
/// becomes a plain line end.
#[test]
fn a_lone_carriage_return_ends_a_comment_for_fmt_as_for_check() {
    let text = "category a \"x\" {\n  lead urban\n  grade yellow when attr.a == 1   # c3\r and attr.z == 9\n     or attr.b == 2\n  grade blue\n}\n";
    let out = format_source(text).unwrap();
    assert_eq!(
        out,
        "category a \"x\" {\n  lead  urban\n  grade yellow when attr.a == 1 and attr.z == 9 or attr.b == 2  # c3\n  grade blue\n}\n"
    );
    assert_eq!(meaning(text), meaning(&out));
    assert_eq!(is_formatted(text), Ok(false));
    assert_eq!(is_formatted(&out), Ok(true));
}

#[test]
fn a_mistake_is_reported_once() {
    // The parser's recovery meets a bad duration from two places; `fmt`
    // must say it once, as `check` does.
    for text in [
        "policy \"p\" { version \"1\" }\nlevels grid\ngrades blue\ndepartment a\nfallback { lead a grade blue }\ngrade blue { level grid respond 1x resolve 2h }\n",
        "category c { lead a grade blue when repeats(3x) > 1 }\ncategory d { lead a }\n",
    ] {
        let diags = format_source(text).unwrap_err();
        for (i, d) in diags.iter().enumerate() {
            assert!(
                !diags[..i].contains(d),
                "{text:?}: reported twice: {}",
                d.message
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Layout details.

#[test]
fn small_cases() {
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("  \n\n", ""),
        ("# only\n\n\n# comments  \n", "# only\n\n# comments\n"),
        ("\u{FEFF}levels a<b", "levels a < b\n"),
        (
            "levels a # no newline at the end",
            "levels a  # no newline at the end\n",
        ),
        ("\u{FEFF}# c", "# c\n"),
        (
            "levels a < b\r\ngrades x < y # c\r\n",
            "levels a < b\n\ngrades x < y  # c\n",
        ),
        (
            "grade blue{level grid respond 2h resolve 24h}\ngrade red {level street}",
            "grade blue { level grid  respond 2h  resolve 24h }\ngrade red  { level street }\n",
        ),
        (
            "grade blue { level grid respond 30m2h resolve 1h1h1d working }",
            "grade blue { level grid  respond 2h30m  resolve 1d2h working }\n",
        ),
        (
            "grade blue { level grid respond 2h resolve 24h level x respond 1h }",
            "grade blue {\n  level   grid\n  respond 2h\n  resolve 24h\n  level   x\n  respond 1h\n}\n",
        ),
        (
            "department a \"A\"\n\ndepartment bb \"B\"\n",
            "department a \"A\"\n\ndepartment bb \"B\"\n",
        ),
        (
            "target a >= 1\ntarget bbb > 2\nlevels x",
            "target a   >= 1\ntarget bbb >  2\n\nlevels x\n",
        ),
        (
            "test \"t\" { event { \"b\" : [ ] , \"a\":{ \"z\" :1,\"y\":\"#\\\"}\"} } }",
            "test \"t\" {\n  event { \"b\": [], \"a\": { \"z\": 1, \"y\": \"#\\\"}\" } }\n}\n",
        ),
        (
            "levels a < b grades x < y # c\ndepartment d grade g { level x }",
            "levels a < b\n\ngrades x < y  # c\n\ndepartment d\n\ngrade g { level x }\n",
        ),
        (
            "category c { lead a # on the brace line\n}\ngrade g { # c\n}",
            "category c {\n  lead a  # on the brace line\n}\n\ngrade g {  # c\n}\n",
        ),
        (
            "category c {\n  lead a # short\n  grade g when attr.a_very_long_name_for_a_field > 1 or attr.another_long_one and has attr.x # long\n  level l # l\n}",
            "category c {\n  lead  a  # short\n  grade g when attr.a_very_long_name_for_a_field > 1 or attr.another_long_one and has attr.x  # long\n  level l  # l\n}\n",
        ),
        (
            "escalate { when grade == red -> notify x at 50% resolve -> remind }",
            "escalate {\n  when grade == red -> notify x\n  at 50% resolve -> remind\n}\n",
        ),
    ];
    for (input, expected) in cases {
        let got = check(input, input).unwrap();
        assert_eq!(&got, expected, "input {input:?}");
    }
}

/// 100 columns of display width, indentation included.
fn widest(text: &str) -> usize {
    text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

#[test]
fn long_conditions_are_broken_at_when_then_at_and_or() {
    let long_list =
        "noise_from_the_night_market, stray_animals_in_the_alley, littering_in_public_places";
    let cases: &[(&str, &str)] = &[
        // Fits: whole, even with a comment taking it past 100.
        (
            "empower grid { resolve street_vendor when grade == blue and source == patrol # only what the worker saw there\n}",
            "empower grid {\n  resolve street_vendor when grade == blue and source == patrol  # only what the worker saw there\n}\n",
        ),
        // Too wide: `when` moves down; the comment follows the last line.
        (
            &format!("empower grid {{ resolve {long_list}, x when grade == blue # c\n}}"),
            &format!(
                "empower grid {{\n  resolve {long_list}, x\n      when grade == blue  # c\n}}\n"
            ),
        ),
        // Still too wide after that: one top-level operand per line; the
        // `and` inside the parentheses stays.
        (
            "category c { lead a grade red when attr.building_height_m >= 24 or (attr.people_trapped > 0 and source == hotline) or attr.description == \"居民楼下电动车集中充电，线路私拉乱接\" }",
            "category c {\n  lead  a\n  grade red\n      when attr.building_height_m >= 24\n      or (attr.people_trapped > 0 and source == hotline)\n      or attr.description == \"居民楼下电动车集中充电，线路私拉乱接\"\n}\n",
        ),
        // A ladder step has no `when` to move: it breaks at `and`.
        (
            "escalate { when grade == red and attr.people_trapped > 0 and attr.building_height_m >= 24 and source == sensor -> notify command }",
            "escalate {\n  when grade == red\n      and attr.people_trapped > 0\n      and attr.building_height_m >= 24\n      and source == sensor -> notify command\n}\n",
        ),
        // A one-line fallback that would not fit is expanded (and then
        // its items fit).
        (
            "fallback { lead a  grade red when attr.building_height_m >= 24 or attr.people_trapped > 0 and source == hotline }",
            "fallback {\n  lead  a\n  grade red when attr.building_height_m >= 24 or attr.people_trapped > 0 and source == hotline\n}\n",
        ),
        // No place to break: the line stays whole.
        (
            &format!("relieve grid {{ forbid {long_list}, {long_list} }}"),
            &format!("relieve grid {{\n  forbid {long_list}, {long_list}\n}}\n"),
        ),
    ];
    for (input, expected) in cases {
        let got = check(input, input).unwrap();
        assert_eq!(&got, expected, "input {input:?}");
    }
    // Breaking counts display width: each Chinese character is two.
    let chinese = "category c { lead a grade red when attr.地点 == \"居民楼下电动车集中充电线路私拉乱接存在严重火灾隐患需要立即处理并上报街道\" }";
    let got = check("chinese", chinese).unwrap();
    assert!(got.contains("\n      when attr.地点"), "{got}");
    assert!(widest(&got) <= 100, "{got}");
    assert!(
        chinese.chars().count() < 100,
        "the case must be narrow in characters"
    );
}

#[test]
fn padded_grade_lines_break_without_trailing_spaces() {
    let input = "category c {\n  lead a\n  grade yellow when attr.a > 1\n  grade red when attr.building_height_m >= 24 or attr.people_trapped > 0 and source in [citizen, hotline]\n}\n";
    let cases: &[(&str, &str)] = &[(
        input,
        "category c {\n  lead  a\n  grade yellow when attr.a > 1\n  grade red\n      when attr.building_height_m >= 24 or attr.people_trapped > 0 and source in [citizen, hotline]\n}\n",
    )];
    for (input, expected) in cases {
        let got = check(input, input).unwrap();
        assert_eq!(&got, expected, "input {input:?}");
    }
}

#[test]
fn a_large_bundle_is_formatted_with_everything_kept() {
    let spec = std::fs::read_to_string(fixture_dir().join("spec.whistle")).unwrap();
    let mut big = String::new();
    let mut n = 0;
    while big.lines().count() < 5_000 {
        big.push_str(&spec.replace("fire_lane", &format!("fire_lane_{n}")));
        n += 1;
    }
    // Its speed is a bench's (`big_format` in engine/benches/compile.rs).
    let once = check("large", &big).expect("the large bundle parses");
    assert!(
        once.lines().count() >= 5_000,
        "{} lines",
        once.lines().count()
    );
}

// ---------------------------------------------------------------------------
// Generated policies.

#[path = "fmt/generate.rs"]
mod generate;

use generate::policy_file;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_policies_keep_meaning_and_comments(text in policy_file()) {
        let (_, diags) = parse_file(FileId(0), &text);
        prop_assert!(diags.is_empty(), "the generator wrote an invalid file: {diags:?}\n{text}");
        check("generated", &text);
    }
}

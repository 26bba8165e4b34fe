//! The parser and the checker never panic, whatever the input: random
//! bytes, and random soups of the language's own tokens (which reach much
//! deeper than random bytes do).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use whistle_engine::compile;
use whistle_grammar::bundle::{BundleFile, from_files};

const TOKENS: &[&str] = &[
    "policy",
    "levels",
    "department",
    "grades",
    "grade",
    "category",
    "fallback",
    "empower",
    "relieve",
    "escalate",
    "for",
    "threshold",
    "assess",
    "target",
    "test",
    "calendar",
    "lead",
    "assist",
    "when",
    "limits",
    "level",
    "respond",
    "resolve",
    "forbid",
    "at",
    "->",
    "remind",
    "notify",
    "raise",
    "to",
    "whistle",
    "metric",
    "by",
    "over",
    "alert",
    "weight",
    "count",
    "event",
    "expect",
    "week",
    "holiday",
    "workday",
    "working",
    "and",
    "or",
    "not",
    "in",
    "has",
    "true",
    "false",
    "repeats",
    "attr.x",
    "attr.a.b",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "<",
    "==",
    "!=",
    ">=",
    "<=",
    ">",
    "..",
    "-",
    "\"s\"",
    "\"城管\"",
    "12",
    "0.5",
    "10%",
    "30m",
    "2h",
    "1d12h",
    "2025-10-01",
    "09:00",
    "grid",
    "community",
    "street",
    "district",
    "blue",
    "yellow",
    "red",
    "urban",
    "fire_lane",
    "source",
    "hour",
    "weekday",
    "patrol",
    "mon",
    "fri",
    "\n",
    "# c\n",
    "{\"category\": \"x\", \"grid\": \"G\"}",
    "\u{FEFF}",
    "\"\\u{110000}\"",
    "99999999999999999999d",
    "2025-02-30",
    "25:00",
    "external",
    "version",
    "timezone",
    "\"Nowhere/City\"",
];

const VALID: &str = r#"
policy "p" { version "1" timezone "Asia/Shanghai" calendar w }
levels grid < community < street
calendar w { week mon..fri 09:00-18:00 }
department urban "城管" { level street }
grades blue < red
grade blue { level grid respond 2h working resolve 24h }
grade red { level street respond 30m resolve 72h }
fallback { lead urban grade blue }
"#;

fn check(text: &str) {
    let b = from_files(vec![
        BundleFile {
            path: "base.whistle".into(),
            bytes: VALID.into(),
        },
        BundleFile {
            path: "fuzz.whistle".into(),
            bytes: text.as_bytes().to_vec(),
        },
    ]);
    let c = compile(&b);
    // Whatever it says, it says it with places that exist.
    for d in &c.diagnostics {
        assert!(b.sources.get(d.span.file).is_some());
    }
    let _ = whistle_grammar::diag::render(&c.diagnostics, &b.sources, false);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        check(&text);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..80)) {
        check(&tokens.join(" "));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let b = from_files(vec![BundleFile { path: "x.whistle".into(), bytes }]);
        let _ = compile(&b);
    }
}

#[test]
fn the_valid_base_compiles() {
    let b = from_files(vec![BundleFile {
        path: "base.whistle".into(),
        bytes: VALID.into(),
    }]);
    let c = compile(&b);
    assert!(c.policy.is_some(), "{:?}", c.diagnostics);
}

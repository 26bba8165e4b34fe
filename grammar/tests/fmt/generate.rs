//! A generator of random, syntactically valid policy files: every kind of
//! declaration, names (some Chinese), conditions nested at random, and
//! random separators between tokens (spaces, line breaks, blank lines,
//! end-of-line and own-line comments), so comments land in every position.

use proptest::prelude::*;

const KEYWORDS: &[&str] = &[
    "policy",
    "version",
    "effective",
    "timezone",
    "calendar",
    "levels",
    "department",
    "level",
    "external",
    "grades",
    "grade",
    "respond",
    "resolve",
    "category",
    "lead",
    "assist",
    "when",
    "limits",
    "fallback",
    "empower",
    "relieve",
    "forbid",
    "escalate",
    "at",
    "for",
    "remind",
    "notify",
    "raise",
    "to",
    "whistle",
    "threshold",
    "metric",
    "by",
    "over",
    "alert",
    "assess",
    "weight",
    "target",
    "test",
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
    "count",
    "repeats",
    "attr",
];

/// Source tokens; the separators between them are chosen later.
type Toks = Vec<String>;

fn tok(s: &str) -> Toks {
    vec![s.to_string()]
}

fn cat(parts: Vec<Toks>) -> Toks {
    parts.into_iter().flatten().collect()
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,7}".prop_filter("keyword", |s| !KEYWORDS.contains(&s.as_str())),
        1 => prop::sample::select(vec!["城管", "网格员_2", "消防救援站", "物业", "派出所"])
            .prop_map(String::from),
    ]
}

fn names() -> impl Strategy<Value = Toks> {
    prop::collection::vec(name(), 1..4).prop_map(|v| {
        let mut out = Vec::new();
        for (i, n) in v.into_iter().enumerate() {
            if i > 0 {
                out.push(",".to_string());
            }
            out.push(n);
        }
        out
    })
}

fn string_lit() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 #_.-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        prop::sample::select(vec![
            r#""城管执法中队""#,
            r#""a \"quoted\" # word""#,
            r#""tab\tnew\nline \\ \u{4E2D}""#,
        ])
        .prop_map(String::from),
    ]
}

fn duration() -> impl Strategy<Value = Toks> {
    (
        prop::collection::vec(
            (1u32..100, prop::sample::select(vec!['d', 'h', 'm', 's'])),
            1..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(parts, working)| {
            let d: String = parts.iter().map(|(n, u)| format!("{n}{u}")).collect();
            let mut t = vec![d];
            if working {
                t.push("working".to_string());
            }
            t
        })
}

fn attr_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![3 => "[a-z][a-z_]{0,5}", 1 => Just("grade".to_string())],
        1..4,
    )
    .prop_map(|keys| format!("attr.{}", keys.join(".")))
}

fn literal() -> impl Strategy<Value = Toks> {
    prop_oneof![
        (-50i32..500).prop_map(|n| tok(&n.to_string())),
        (0u32..100, 0u32..100).prop_map(|(a, b)| tok(&format!("{a}.{b:02}"))),
        (0u32..300).prop_map(|n| tok(&format!("{n}%"))),
        string_lit().prop_map(|s| tok(&s)),
        any::<bool>().prop_map(|b| tok(&b.to_string())),
        duration(),
    ]
}

fn operand() -> impl Strategy<Value = Toks> {
    prop_oneof![
        3 => attr_path().prop_map(|a| tok(&a)),
        2 => literal(),
        2 => prop_oneof![
            name(),
            prop::sample::select(vec!["grade", "category", "source", "hour", "reopened"])
                .prop_map(String::from),
        ]
        .prop_map(|n| tok(&n)),
        1 => (duration(), prop::option::of(name())).prop_map(|(d, by)| {
            let mut t = cat(vec![tok("repeats"), tok("("), d]);
            if let Some(by) = by {
                t.extend(tok(","));
                t.push(by);
            }
            t.push(")".to_string());
            t
        }),
    ]
}

fn cmp_op() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]).prop_map(String::from)
}

fn condition() -> impl Strategy<Value = Toks> {
    let leaf = prop_oneof![
        3 => (operand(), cmp_op(), operand()).prop_map(|(a, op, b)| cat(vec![a, tok(&op), b])),
        1 => (operand(), any::<bool>(), prop::collection::vec(operand(), 0..3)).prop_map(
            |(a, neg, list)| {
                let mut t = a;
                if neg {
                    t.push("not".to_string());
                }
                t.extend(tok("in"));
                t.push("[".to_string());
                for (i, x) in list.into_iter().enumerate() {
                    if i > 0 {
                        t.push(",".to_string());
                    }
                    t.extend(x);
                }
                t.push("]".to_string());
                t
            }
        ),
        1 => attr_path().prop_map(|a| vec!["has".to_string(), a]),
        1 => operand(),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|xs| join_with(xs, "or")),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|xs| join_with(xs, "and")),
            inner.clone().prop_map(|x| cat(vec![tok("not"), x])),
            inner.prop_map(|x| cat(vec![tok("("), x, tok(")")])),
        ]
    })
}

fn join_with(xs: Vec<Toks>, op: &str) -> Toks {
    let mut out = Vec::new();
    for (i, x) in xs.into_iter().enumerate() {
        if i > 0 {
            out.push(op.to_string());
        }
        out.extend(x);
    }
    out
}

fn when() -> impl Strategy<Value = Toks> {
    prop::option::of(condition())
        .prop_map(|c| c.map_or_else(Vec::new, |c| cat(vec![tok("when"), c])))
}

fn limit() -> impl Strategy<Value = Toks> {
    (prop::sample::select(vec!["respond", "resolve"]), duration())
        .prop_map(|(k, d)| cat(vec![tok(k), d]))
}

fn category_item() -> impl Strategy<Value = Toks> {
    prop_oneof![
        4 => fallback_item(),
        1 => (name(), prop::collection::vec(limit(), 0..3))
            .prop_map(|(n, ls)| cat(vec![tok("limits"), vec![n], tok("{"), ls.concat(), tok("}")])),
    ]
}

/// An item of the fallback: a category item other than `limits`.
fn fallback_item() -> impl Strategy<Value = Toks> {
    prop_oneof![
        name().prop_map(|n| vec!["lead".to_string(), n]),
        (names(), when()).prop_map(|(n, w)| cat(vec![tok("assist"), n, w])),
        (name(), when()).prop_map(|(n, w)| cat(vec![tok("grade"), vec![n], w])),
        name().prop_map(|n| vec!["level".to_string(), n]),
    ]
}

fn block(head: Toks, items: Vec<Toks>) -> Toks {
    cat(vec![head, tok("{"), items.concat(), tok("}")])
}

fn date() -> impl Strategy<Value = String> {
    (2000u32..2100, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn json_event() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", " ", "\n  "]),
        name(),
        prop::sample::select(vec!["1", "2.50", "-3e2", "null", "[1, {}]", "\"a # b\""]),
    )
        .prop_map(|(ws, cat, v)| {
            format!(
                "{{{ws}\"category\":{ws}\"{cat}\",{ws}\"grid\": \"G1\", \"attr\": {{\"v\":{v}}}{ws}}}"
            )
        })
}

fn decl() -> impl Strategy<Value = Toks> {
    prop_oneof![
        (
            string_lit(),
            prop::option::of(string_lit()),
            prop::option::of(date()),
            prop::option::of(name())
        )
            .prop_map(|(n, v, e, c)| {
                let mut items = Vec::new();
                if let Some(v) = v {
                    items.push(vec!["version".to_string(), v]);
                }
                if let Some(e) = e {
                    items.push(vec!["effective".to_string(), e]);
                }
                if let Some(c) = c {
                    items.push(vec!["calendar".to_string(), c]);
                }
                block(vec!["policy".to_string(), n], items)
            }),
        (
            prop::sample::select(vec!["levels", "grades"]),
            prop::collection::vec(name(), 1..5)
        )
            .prop_map(|(k, ns)| cat(vec![
                tok(k),
                join_with(ns.into_iter().map(|n| vec![n]).collect(), "<")
            ])),
        (
            name(),
            prop::option::of(string_lit()),
            prop::option::of((prop::collection::vec(name(), 0..3), any::<bool>()))
        )
            .prop_map(|(n, d, b)| {
                let mut t = vec!["department".to_string(), n];
                t.extend(d);
                if let Some((levels, external)) = b {
                    let mut items: Vec<Toks> = levels
                        .into_iter()
                        .map(|l| vec!["level".to_string(), l])
                        .collect();
                    if external {
                        items.push(tok("external"));
                    }
                    t = block(t, items);
                }
                t
            }),
        (
            name(),
            prop::collection::vec(
                prop_oneof![limit(), name().prop_map(|n| vec!["level".to_string(), n])],
                0..6
            )
        )
            .prop_map(|(n, items)| block(vec!["grade".to_string(), n], items)),
        (
            name(),
            prop::option::of(string_lit()),
            prop::collection::vec(category_item(), 0..6)
        )
            .prop_map(|(n, d, items)| {
                let mut head = vec!["category".to_string(), n];
                head.extend(d);
                block(head, items)
            }),
        prop::collection::vec(fallback_item(), 0..4)
            .prop_map(|items| block(tok("fallback"), items)),
        (name(), prop::collection::vec((names(), when()), 0..3)).prop_map(|(l, items)| {
            block(
                vec!["empower".to_string(), l],
                items
                    .into_iter()
                    .map(|(n, w)| cat(vec![tok("resolve"), n, w]))
                    .collect(),
            )
        }),
        (name(), prop::collection::vec(names(), 0..3)).prop_map(|(l, items)| {
            block(
                vec!["relieve".to_string(), l],
                items
                    .into_iter()
                    .map(|n| cat(vec![tok("forbid"), n]))
                    .collect(),
            )
        }),
        (
            prop::option::of(name()),
            prop::collection::vec(step(), 0..4)
        )
            .prop_map(|(g, steps)| {
                let mut head = tok("escalate");
                if let Some(g) = g {
                    head.extend(["for".to_string(), g]);
                }
                block(head, steps)
            }),
        (
            name(),
            prop::option::of(string_lit()),
            prop::option::of(condition()),
            name(),
            duration(),
            cmp_op(),
            literal(),
            name()
        )
            .prop_map(|(n, d, count, by, over, op, lit, alert)| {
                let mut head = vec!["threshold".to_string(), n];
                head.extend(d);
                let metric = match count {
                    Some(c) => cat(vec![tok("count"), tok("("), c, tok(")")]),
                    None => tok("overdue_rate"),
                };
                block(
                    head,
                    vec![
                        cat(vec![
                            tok("metric"),
                            metric,
                            tok("by"),
                            tok(&by),
                            tok("over"),
                            over,
                        ]),
                        cat(vec![tok("when"), tok(&op), lit]),
                        vec!["alert".to_string(), alert],
                    ],
                )
            }),
        (
            prop_oneof![name(), Just("department".to_string())],
            prop::collection::vec((name(), 0u32..100), 0..4)
        )
            .prop_map(|(by, ws)| {
                block(
                    vec!["assess".to_string(), by],
                    ws.into_iter()
                        .map(|(m, w)| vec![m, "weight".to_string(), w.to_string()])
                        .collect(),
                )
            }),
        (name(), cmp_op(), literal()).prop_map(|(m, op, lit)| cat(vec![
            tok("target"),
            tok(&m),
            tok(&op),
            lit
        ])),
        (
            string_lit(),
            prop::collection::vec(
                prop_oneof![
                    json_event().prop_map(|j| vec!["event".to_string(), j]),
                    prop::collection::vec(
                        (
                            name(),
                            prop_oneof![
                                name().prop_map(|n| tok(&n)),
                                string_lit().prop_map(|s| tok(&s)),
                                Just(tok("true")),
                                (0u32..9).prop_map(|n| tok(&n.to_string())),
                                prop::collection::vec(name(), 0..3).prop_map(|ns| {
                                    let mut t = tok("[");
                                    for (i, n) in ns.into_iter().enumerate() {
                                        if i > 0 {
                                            t.push(",".to_string());
                                        }
                                        t.push(n);
                                    }
                                    t.push("]".to_string());
                                    t
                                }),
                            ]
                        ),
                        0..4
                    )
                    .prop_map(|entries| {
                        let mut t = tok("expect");
                        t.push("{".to_string());
                        for (i, (k, v)) in entries.into_iter().enumerate() {
                            if i > 0 {
                                t.push(",".to_string());
                            }
                            t.extend([k, ":".to_string()]);
                            t.extend(v);
                        }
                        t.push("}".to_string());
                        t
                    }),
                ],
                0..4
            )
        )
            .prop_map(|(n, items)| block(vec!["test".to_string(), n], items)),
        (name(), prop::collection::vec(calendar_item(), 0..4))
            .prop_map(|(n, items)| block(vec!["calendar".to_string(), n], items)),
    ]
}

fn step() -> impl Strategy<Value = Toks> {
    let action = prop_oneof![
        Just(tok("remind")),
        name().prop_map(|n| vec!["notify".to_string(), n]),
        (1u32..4).prop_map(|n| vec!["raise".to_string(), n.to_string()]),
        name().prop_map(|n| vec!["raise".to_string(), "to".to_string(), n]),
        names().prop_map(|ns| cat(vec![tok("whistle"), ns])),
    ];
    (
        prop_oneof![
            (1u32..300, prop::sample::select(vec!["respond", "resolve"])).prop_map(|(p, c)| vec![
                "at".to_string(),
                format!("{p}%"),
                c.to_string()
            ]),
            condition().prop_map(|c| cat(vec![tok("when"), c])),
        ],
        prop::collection::vec(action, 1..4),
    )
        .prop_map(|(trigger, actions)| cat(vec![trigger, tok("->"), join_with(actions, ",")]))
}

fn calendar_item() -> impl Strategy<Value = Toks> {
    let day = prop::sample::select(vec!["mon", "tue", "fri", "sat", "sun"]);
    let days = prop::collection::vec((day.clone(), prop::option::of(day)), 1..3).prop_map(|ds| {
        join_with(
            ds.into_iter()
                .map(|(a, b)| match b {
                    Some(b) => vec![a.to_string(), "..".to_string(), b.to_string()],
                    None => vec![a.to_string()],
                })
                .collect(),
            ",",
        )
    });
    let interval = (0u32..24, 0u32..60, 0u32..24, 0u32..60).prop_map(|(a, b, c, d)| {
        vec![
            format!("{a:02}:{b:02}"),
            "-".to_string(),
            format!("{c:02}:{d:02}"),
        ]
    });
    prop_oneof![
        (days, prop::collection::vec(interval, 1..3)).prop_map(|(d, is)| cat(vec![
            tok("week"),
            d,
            join_with(is, ",")
        ])),
        (
            prop::sample::select(vec!["holiday", "workday"]),
            date(),
            prop::option::of(date()),
            prop::option::of(string_lit())
        )
            .prop_map(|(k, a, b, label)| {
                let mut t = vec![k.to_string(), a];
                if let Some(b) = b {
                    t.extend(["..".to_string(), b]);
                }
                t.extend(label);
                t
            }),
    ]
}

/// What goes between two tokens: mostly a space, sometimes line breaks,
/// blank lines or comments (end-of-line or on their own line).
fn separator() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => Just(" ".to_string()),
        2 => Just("\n  ".to_string()),
        1 => Just("\n\n\n".to_string()),
        1 => "[ a-z#\"城]{0,8}".prop_map(|c| format!(" # {c}\n")),
        1 => "[ a-z#\"城]{0,8}".prop_map(|c| format!("\n  # {c}\n")),
    ]
}

/// A whole file: declarations, each written either on one line or with
/// random separators, with comments and blank lines between them.
pub fn policy_file() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            decl(),
            any::<bool>(),
            prop::collection::vec(separator(), 64),
            separator(),
        ),
        0..6,
    )
    .prop_map(|decls| {
        let mut text = String::new();
        for (toks, compact, seps, between) in decls {
            for (i, t) in toks.iter().enumerate() {
                if i > 0 {
                    text.push_str(if compact { " " } else { &seps[i % seps.len()] });
                }
                text.push_str(t);
            }
            text.push_str(&between);
            text.push('\n');
        }
        text
    })
}

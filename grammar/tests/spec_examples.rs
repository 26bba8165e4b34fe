//! Every example of LANGUAGE.md parses, and lowers to the tree it says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use whistle_grammar::ast::*;
use whistle_grammar::bundle::{BundleFile, from_files};
use whistle_grammar::diag::render;

const SPEC: &str = r#"
policy "Wuhou district grid governance" {
  version   "2025.2"
  effective 2025-03-01          # informative; recorded with every decision
  timezone  "Asia/Shanghai"     # IANA name; default "UTC"
  calendar  workdays            # calendar for `working` durations
}

levels grid < community < street < district     # the escalation ladder, lowest first

department urban     "城管执法中队"  { level street }
department property  "物业服务企业"  { level community  external }
department 网格员_2   "网格工作站"    { level grid }

grades blue < yellow < red

grade blue   { level grid       respond 2h   resolve 24h }
grade red    { level street     respond 30m  resolve 72h }

category fire_lane "消防通道堵塞" {
  lead   urban
  assist fire, property                         # cooperating departments
  assist police when attr.vehicles > 3          # conditional assist
  grade  red    when attr.people_trapped > 0    # first matching line wins
  grade  yellow when repeats(7d) >= 2
  grade  blue                                   # unconditional: the default
  limits red { respond 15m resolve 12h }        # overrides the grade's limits
  level  street                                 # optional: overrides the grade's level
}

fallback { lead command  grade yellow }

empower grid {
  resolve neighbour_noise, litter when grade == blue
}
relieve grid {
  forbid tax_collection, demolition_persuasion
}

escalate {
  at 50%  respond -> remind
  at 100% respond -> raise 1, notify command
  at 100% resolve -> raise 1
  at 200% resolve -> raise to district
  when reopened >= 2 -> raise to street
}
escalate for red {
  at 50%  respond -> raise to district, whistle police, fire
}

threshold overdue_warning "超时率预警" {
  metric overdue_rate by street over 30d
  when   > 10%
  alert  street
}
threshold repeat_disputes "矛盾纠纷多发预警" {
  metric count(category in [neighbour_noise, property_dispute]) by grid over 7d
  when   >= 3
  alert  community
}

assess department {
  on_time_response   weight 30
  satisfaction       weight 70
}
target active_discovery  >= 85%

test "trapped person makes a fire lane red" {
  event  { "category": "fire_lane", "grid": "G010101", "source": "patrol",
           "reported_at": "2025-06-03T10:00:00+08:00", "attr": { "people_trapped": 1 } }
  expect { grade: red, lead: urban, assist: [fire, property], level: street }
}

calendar workdays {
  week    mon..fri 09:00-12:00, 13:30-18:00
  holiday 2025-10-01..2025-10-08 "National Day"
  workday 2025-09-28 "make-up working day"
}

category c2 {
  lead urban
  grade red when (hour >= 22 or hour < 6) and not source in [patrol, sensor] and has attr.x
  grade red when weekday == sat and month != 2 and attr.a.b == "x\u{4E2D}" and grade >= yellow
  grade blue when category not in [a, b] or repeats(30d, grid) > 1 or attr.t < -5 or attr.ok
  grade blue
  limits blue { respond 2h working resolve 1d12h working }
}
"#;

fn parse(text: &str) -> whistle_grammar::bundle::Bundle {
    from_files(vec![BundleFile {
        path: "spec.whistle".into(),
        bytes: text.as_bytes().to_vec(),
    }])
}

#[test]
fn the_spec_examples_parse_without_diagnostics() {
    let b = parse(SPEC);
    assert!(
        b.diagnostics.is_empty(),
        "{}",
        render(&b.diagnostics, &b.sources, false)
    );
    let decls = &b.files[0].1.decls;
    assert_eq!(decls.len(), 21);
}

#[test]
fn a_category_lowers_item_by_item_with_spans() {
    let b = parse(SPEC);
    let cat = b.files[0]
        .1
        .decls
        .iter()
        .find_map(|d| match d {
            Decl::Category(c) if c.name.name == "fire_lane" => Some(c),
            _ => None,
        })
        .expect("fire_lane is there");
    assert_eq!(
        cat.display.as_ref().map(|s| s.value.as_str()),
        Some("消防通道堵塞")
    );
    assert_eq!(cat.items.len(), 8);
    let CategoryItem::Assist(depts, Some(cond), span) = &cat.items[2] else {
        panic!("third item is a conditional assist: {:?}", cat.items[2]);
    };
    assert_eq!(depts[0].name, "police");
    assert_eq!(b.sources.location(*span), "spec.whistle:23:3");
    let ExprKind::Cmp {
        lhs: Operand::Attr(path, _),
        op: CmpOp::Gt,
        rhs: Operand::Lit(Literal::Number(n)),
    } = &cond.kind
    else {
        panic!("a comparison: {cond:?}");
    };
    assert_eq!(path, &["vehicles"]);
    assert_eq!(n.value, 3.0);
    let CategoryItem::Limits(g, limits, _) = &cat.items[6] else {
        panic!("limits");
    };
    assert_eq!(g.name, "red");
    assert_eq!(limits[0].duration.total_seconds(), 15 * 60);
    assert_eq!(limits[1].duration.total_seconds(), 12 * 3600);
}

#[test]
fn conditions_keep_precedence_or_below_and_below_not() {
    let b = parse("category c { grade red when a == 1 or b == 2 and not c == 3 }");
    assert!(
        b.diagnostics.is_empty(),
        "{}",
        render(&b.diagnostics, &b.sources, false)
    );
    let Decl::Category(c) = &b.files[0].1.decls[0] else {
        panic!()
    };
    let CategoryItem::Grade(_, Some(e), _) = &c.items[0] else {
        panic!()
    };
    let ExprKind::Or(xs) = &e.kind else {
        panic!("or at the top: {e:?}")
    };
    assert!(matches!(xs[1].kind, ExprKind::And(ref ys) if matches!(ys[1].kind, ExprKind::Not(_))));
}

#[test]
fn durations_and_working_time() {
    let b = parse("grade blue { respond 2h working resolve 1d12h }");
    let Decl::Grade(g) = &b.files[0].1.decls[0] else {
        panic!()
    };
    let GradeItem::Limit(r) = &g.items[0] else {
        panic!()
    };
    assert!(r.duration.working);
    assert_eq!(r.duration.total_seconds(), 7200);
    let GradeItem::Limit(s) = &g.items[1] else {
        panic!()
    };
    assert!(!s.duration.working);
    assert_eq!(
        (s.duration.days(), s.duration.sub_day_seconds()),
        (1, 43200)
    );
}

#[test]
fn keywords_are_not_prefixes_of_names() {
    let b = parse("grades gradeA < levels_x\n");
    assert!(
        b.diagnostics.is_empty(),
        "{}",
        render(&b.diagnostics, &b.sources, false)
    );
    let Decl::Grades(o) = &b.files[0].1.decls[0] else {
        panic!()
    };
    assert_eq!(o.names[1].name, "levels_x");
}

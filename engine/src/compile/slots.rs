//! Shares one slot among every use of the same `attr` path in a policy, so
//! that [`crate::decide`] looks each path up in an event's `attr` tree once
//! per event instead of once per rule that reads it (a category's grade and
//! assist lines often test the same few attributes).

use rustc_hash::FxHashMap;

use crate::cond::{AttrPath, Cond};
use crate::model::{Policy, Route, ThresholdMetric, TriggerDef};

/// Gives every compared `attr` path in `policy` its slot.
pub fn assign(policy: &mut Policy) {
    let mut slots: FxHashMap<Box<[Box<str>]>, u16> = FxHashMap::default();
    let mut give = |p: &mut AttrPath| {
        let next = slots.len() + 1;
        p.slot = match slots.get(&p.keys) {
            Some(&s) => s,
            // Past u16::MAX distinct paths the rest simply go uncached.
            None => match u16::try_from(next) {
                Ok(s) => {
                    slots.insert(p.keys.clone(), s);
                    s
                }
                Err(_) => 0,
            },
        };
    };
    let mut conds: Vec<&mut Cond> = Vec::new();
    for route in policy
        .categories
        .iter_mut()
        .chain(std::iter::once(&mut policy.fallback))
    {
        route_conds(route, &mut conds);
    }
    for ladder in
        std::iter::once(&mut policy.ladder).chain(policy.grade_ladders.iter_mut().flatten())
    {
        for step in &mut ladder.steps {
            if let TriggerDef::When(c) = &mut step.trigger {
                conds.push(c);
            }
        }
    }
    for t in &mut policy.thresholds {
        if let ThresholdMetric::Count(Some(c)) = &mut t.metric {
            conds.push(c);
        }
    }
    for c in conds {
        c.attr_paths_mut(&mut give);
    }
}

fn route_conds<'a>(route: &'a mut Route, out: &mut Vec<&'a mut Cond>) {
    out.extend(route.grades.iter_mut().filter_map(|r| r.when.as_mut()));
    out.extend(route.assists.iter_mut().filter_map(|r| r.when.as_mut()));
    out.extend(route.empower.iter_mut().filter_map(|r| r.when.as_mut()));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use crate::cond::{Cond, Field, Operand};
    use crate::model::Policy;

    fn policy(text: &str) -> Policy {
        crate::compile_texts(&[("p.whistle", text)]).expect("compiles")
    }

    fn slots(c: &Cond, out: &mut Vec<(String, u16)>) {
        let mut c = c.clone();
        c.attr_paths_mut(&mut |p| out.push((p.keys.join("."), p.slot)));
    }

    #[test]
    fn the_same_path_shares_a_slot_across_rules_and_categories() {
        let p = policy(
            r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < street
grades blue < red
grade blue { level grid respond 2h resolve 24h }
grade red  { level street respond 30m resolve 72h }
department urban "城管" { level street }
department fire { level street }
category a { lead urban  grade red when attr.n > 1 or attr.site.kind == "x"  grade blue }
category b { lead urban  assist fire when attr.n > 5  grade red when attr.m > 0  grade blue }
fallback { lead urban grade blue }
"#,
        );
        let mut seen = Vec::new();
        for r in &p.categories {
            for g in &r.grades {
                if let Some(c) = &g.when {
                    slots(c, &mut seen);
                }
            }
            for a in &r.assists {
                if let Some(c) = &a.when {
                    slots(c, &mut seen);
                }
            }
        }
        let slot_of = |k: &str| {
            let s: Vec<u16> = seen.iter().filter(|(p, _)| p == k).map(|x| x.1).collect();
            assert!(!s.is_empty(), "{k} not seen");
            assert!(s.iter().all(|x| *x == s[0]), "{k} has several slots: {s:?}");
            s[0]
        };
        let (n, kind, m) = (slot_of("n"), slot_of("site.kind"), slot_of("m"));
        assert!(n > 0 && kind > 0 && m > 0);
        assert!(n != kind && n != m && kind != m);
    }

    #[test]
    fn cached_lookups_decide_like_uncached_ones() {
        let p = policy(
            r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < street
grades blue < red
grade blue { level grid respond 2h resolve 24h }
grade red  { level street respond 30m resolve 72h }
department urban "城管" { level street }
department fire { level street }
category a { lead urban  assist fire when attr.n > 5  grade red when attr.n > 1 and attr.n < 9  grade blue }
fallback { lead urban grade blue }
"#,
        );
        for (n, grade, assisted) in [
            (0, "blue", false),
            (2, "red", false),
            (7, "red", true),
            (12, "blue", true),
        ] {
            let ev = crate::event::parse_event(&format!(
                r#"{{"id":"E","category":"a","grid":"G","reported_at":"2026-03-02T10:00:00+08:00","attr":{{"n":{n}}}}}"#
            ))
            .unwrap();
            let d = crate::decide(&p, &ev, &crate::Context::default());
            assert_eq!(d.view(&p).grade, grade, "n = {n}");
            assert_eq!(!d.assist.is_empty(), assisted, "n = {n}");
        }
        let Some(Cond::And(xs)) = &p.categories[0].grades[0].when else {
            panic!("an `and` condition");
        };
        let slot = |c: &Cond| match c {
            Cond::Cmp(Operand::Field(Field::Attr(a)), _, _) => a.slot,
            other => panic!("not an attr comparison: {other:?}"),
        };
        assert_eq!(slot(&xs[0]), slot(&xs[1]));
    }
}

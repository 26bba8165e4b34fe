//! The responsibility list in a semantic diff: each category's lead,
//! assist lines, grading lines, level and own limits; the fallback; and
//! the empowerment and relief lists, per category.

use std::collections::BTreeMap;

use super::semantic::{ChangeKind, Out, by_name};
use super::words::{cond, dept, grade, level, limit, when};
use crate::model::{Policy, Route};

fn named_routes(p: &Policy) -> Vec<(String, &Route)> {
    p.categories
        .iter()
        .map(|r| (r.name.to_string(), r))
        .collect()
}

fn assist_lines(p: &Policy, r: &Route) -> Vec<String> {
    r.assists
        .iter()
        .map(|a| {
            let names: Vec<String> = a.depts.iter().map(|d| dept(p, *d)).collect();
            when(p, names.join(", "), a.when.as_ref())
        })
        .collect()
}

fn grade_lines(p: &Policy, r: &Route) -> Vec<String> {
    r.grades
        .iter()
        .map(|g| when(p, grade(p, g.grade), g.when.as_ref()))
        .collect()
}

/// A route in one line, for a category added or removed.
fn route_summary(p: &Policy, r: &Route) -> String {
    // The display name first, as a category is declared.
    let mut parts: Vec<String> = r.display.iter().map(|d| format!("\"{d}\"")).collect();
    parts.push(format!("lead {}", dept(p, r.lead)));
    parts.extend(
        assist_lines(p, r)
            .into_iter()
            .map(|a| format!("assist {a}")),
    );
    parts.extend(grade_lines(p, r).into_iter().map(|g| format!("grade {g}")));
    for (g, over, _) in &r.limits {
        let mut l = format!("limits {}", grade(p, *g));
        if let Some(x) = &over.respond {
            l.push_str(&format!(" respond {}", limit(x)));
        }
        if let Some(x) = &over.resolve {
            l.push_str(&format!(" resolve {}", limit(x)));
        }
        parts.push(l);
    }
    if let Some((l, _)) = r.level {
        parts.push(format!("level {}", level(p, l)));
    }
    parts.join("; ")
}

pub(super) fn categories(o: &mut Out, old: &Policy, new: &Policy) {
    for (name, pair) in by_name(named_routes(old), named_routes(new)) {
        match pair {
            (Some(a), Some(b)) => route(o, &name, (old, a), (new, b)),
            (None, Some(b)) => {
                o.push(
                    &name,
                    "",
                    ChangeKind::Added,
                    None,
                    Some(route_summary(new, b)),
                );
            }
            (Some(a), None) => {
                o.push(
                    &name,
                    "",
                    ChangeKind::Removed,
                    Some(route_summary(old, a)),
                    None,
                );
            }
            (None, None) => {}
        }
    }
}

/// Compares two routes of the same name: lead, assist lines, grading lines,
/// level, and the limits each grade ends up with.
pub(super) fn route(
    o: &mut Out,
    subject: &str,
    (po, ro): (&Policy, &Route),
    (pn, rn): (&Policy, &Route),
) {
    let disp = |r: &Route| r.display.as_deref().map(str::to_string);
    o.value(subject, "name", disp(ro), disp(rn));
    o.value(
        subject,
        "lead",
        Some(dept(po, ro.lead)),
        Some(dept(pn, rn.lead)),
    );
    o.seq(
        subject,
        "assist",
        &assist_lines(po, ro),
        &assist_lines(pn, rn),
    );
    o.seq(subject, "grade", &grade_lines(po, ro), &grade_lines(pn, rn));
    let lvl = |p: &Policy, r: &Route| {
        Some(
            r.level
                .map_or_else(|| "from its grade".to_string(), |(l, _)| level(p, l)),
        )
    };
    o.value(subject, "level", lvl(po, ro), lvl(pn, rn));
    // A limit the category sets itself is reported here; one it inherits
    // from its grade is reported once, under the grade.
    for g in &pn.grades {
        let (Some(go), Some(gn)) = (po.grade_id(&g.name), pn.grade_id(&g.name)) else {
            continue;
        };
        let (Some(gdo), Some(gdn)) = (
            po.grades.get(usize::from(go)),
            pn.grades.get(usize::from(gn)),
        ) else {
            continue;
        };
        let over = |r: &Route, id| {
            r.limits
                .iter()
                .find(|(x, _, _)| *x == id)
                .map(|(_, o, _)| *o)
                .unwrap_or_default()
        };
        let (oo, on) = (over(ro, go), over(rn, gn));
        for (clock, a, b, da, db) in [
            ("respond", oo.respond, on.respond, gdo.respond, gdn.respond),
            ("resolve", oo.resolve, on.resolve, gdo.resolve, gdn.resolve),
        ] {
            if a.is_none() && b.is_none() {
                continue;
            }
            let (ea, eb) = (a.unwrap_or(da), b.unwrap_or(db));
            let same = ea.days == eb.days && ea.seconds == eb.seconds && ea.working == eb.working;
            if !same {
                let aspect = format!("{} {clock}", g.name);
                o.value(subject, &aspect, Some(limit(&ea)), Some(limit(&eb)));
            }
        }
    }
}

pub(super) fn empowerment(o: &mut Out, old: &Policy, new: &Policy) {
    // Category → level → conditions, in line order.
    type Lines = BTreeMap<String, Vec<String>>;
    let list = |p: &Policy| {
        p.categories
            .iter()
            .map(|r| {
                let mut by_level: Lines = BTreeMap::new();
                for e in &r.empower {
                    let c = e
                        .when
                        .as_ref()
                        .map_or_else(|| "always".to_string(), |c| format!("when {}", cond(p, c)));
                    by_level.entry(level(p, e.level)).or_default().push(c);
                }
                (r.name.to_string(), by_level)
            })
            .collect::<Vec<_>>()
    };
    for (name, (a, b)) in by_name(list(old), list(new)) {
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        for (lvl, (x, y)) in by_name(a, b) {
            o.seq(&name, &lvl, &x.unwrap_or_default(), &y.unwrap_or_default());
        }
    }
}

pub(super) fn relief(o: &mut Out, old: &Policy, new: &Policy) {
    let list = |p: &Policy| {
        let mut v: Vec<(String, Vec<String>)> = p
            .categories
            .iter()
            .map(|r| (r.name.to_string(), &r.relief))
            .chain(p.undeclared_relief.iter().map(|(k, r)| (k.to_string(), r)))
            .map(|(name, r)| {
                let levels = (0..p.levels.len())
                    .filter_map(|l| u8::try_from(l).ok())
                    .filter(|&l| r.forbids(l))
                    .map(|l| level(p, l))
                    .collect();
                (name, levels)
            })
            .collect();
        v.retain(|(_, l)| !l.is_empty());
        v
    };
    for (name, (a, b)) in by_name(list(old), list(new)) {
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        // The side that has the relief says so, as other changes carry
        // their old or new value: a reader of the JSON sees what went.
        let relieved = || Some("relieved".to_string());
        for l in &a {
            if !b.contains(l) {
                o.push(&name, l, ChangeKind::Removed, relieved(), None);
            }
        }
        for l in &b {
            if !a.contains(l) {
                o.push(&name, l, ChangeKind::Added, None, relieved());
            }
        }
    }
}

//! Oversight in a semantic diff: escalation ladders, threshold warnings,
//! assessment weights and targets.

use std::collections::BTreeMap;

use super::semantic::{ChangeKind, Out, by_name};
use super::words::{self, cond, dept, level};
use crate::model::{Policy, ThresholdMetric};

pub(super) fn ladders(o: &mut Out, old: &Policy, new: &Policy) {
    let steps = |p: &Policy, l: &crate::model::Ladder| -> Vec<String> {
        l.steps
            .iter()
            .map(|s| words::step(p, &s.trigger, &s.actions))
            .collect()
    };
    o.seq(
        "default ladder",
        "step",
        &steps(old, &old.ladder),
        &steps(new, &new.ladder),
    );
    let own = |p: &Policy| {
        p.grades
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let l = p.grade_ladders.get(i).and_then(Option::as_ref)?;
                Some((g.name.to_string(), steps(p, l)))
            })
            .collect::<Vec<_>>()
    };
    let pairs = by_name(own(old), own(new));
    let mut names: Vec<String> = new.grades.iter().map(|g| g.name.to_string()).collect();
    names.extend(old.grades.iter().map(|g| g.name.to_string()));
    let mut seen = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let subject = format!("ladder for {name}");
        match pairs.get(&name) {
            Some((Some(a), Some(b))) => o.seq(&subject, "step", a, b),
            Some((None, Some(b))) => {
                o.push(&subject, "", ChangeKind::Added, None, Some(b.join("; ")));
            }
            Some((Some(a), None)) => {
                let was = format!("{} (now the default ladder applies)", a.join("; "));
                o.push(&subject, "", ChangeKind::Removed, Some(was), None);
            }
            _ => {}
        }
    }
}

pub(super) fn thresholds(o: &mut Out, old: &Policy, new: &Policy) {
    let parts = |p: &Policy, t: &crate::model::Threshold| {
        let (metric, share) = match &t.metric {
            ThresholdMetric::Builtin(m) => (m.name().to_string(), m.is_share()),
            ThresholdMetric::Count(c) => (
                format!(
                    "count({})",
                    c.as_ref().map(|c| cond(p, c)).unwrap_or_default()
                ),
                false,
            ),
        };
        let alert = match t.alert {
            crate::model::Target::Level(l) => level(p, l),
            crate::model::Target::Department(d) => dept(p, d),
        };
        [
            (
                "name",
                t.display.as_deref().map(str::to_string).unwrap_or_default(),
            ),
            (
                "metric",
                format!(
                    "{metric} by {} over {}",
                    words::group(p, t.by),
                    words::duration(t.window)
                ),
            ),
            (
                "when",
                format!("{} {}", words::op(t.op), words::bound(share, t.bound)),
            ),
            ("alert", alert),
        ]
    };
    let list = |p: &Policy| {
        p.thresholds
            .iter()
            .map(|t| (t.name.to_string(), parts(p, t)))
            .collect::<Vec<_>>()
    };
    let summary = |ps: &[(&str, String); 4]| {
        ps.iter()
            .skip(1)
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for (name, pair) in by_name(list(old), list(new)) {
        match pair {
            (Some(a), Some(b)) => {
                for ((k, x), (_, y)) in a.iter().zip(b.iter()) {
                    o.value(&name, k, Some(x.clone()), Some(y.clone()));
                }
            }
            (None, Some(b)) => o.push(&name, "", ChangeKind::Added, None, Some(summary(&b))),
            (Some(a), None) => o.push(&name, "", ChangeKind::Removed, Some(summary(&a)), None),
            (None, None) => {}
        }
    }
}

pub(super) fn assessment(o: &mut Out, old: &Policy, new: &Policy) {
    let list = |p: &Policy| {
        p.assessments
            .iter()
            .map(|a| {
                let w: Vec<(String, String)> = a
                    .weights
                    .iter()
                    .map(|(m, w)| (m.name().to_string(), words::number(*w)))
                    .collect();
                (format!("assess {}", words::group(p, a.by)), w)
            })
            .collect::<Vec<_>>()
    };
    let summary = |w: &[(String, String)]| {
        w.iter()
            .map(|(m, x)| format!("{m} {x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (name, pair) in by_name(list(old), list(new)) {
        match pair {
            (Some(a), Some(b)) => {
                for (metric, (x, y)) in by_name(a, b) {
                    let aspect = format!("{metric} weight");
                    match (x, y) {
                        (Some(x), Some(y)) => o.value(&name, &aspect, Some(x), Some(y)),
                        (None, Some(y)) => o.push(&name, &aspect, ChangeKind::Added, None, Some(y)),
                        (Some(x), None) => {
                            o.push(&name, &aspect, ChangeKind::Removed, Some(x), None);
                        }
                        (None, None) => {}
                    }
                }
            }
            (None, Some(b)) => o.push(&name, "", ChangeKind::Added, None, Some(summary(&b))),
            (Some(a), None) => o.push(&name, "", ChangeKind::Removed, Some(summary(&a)), None),
            (None, None) => {}
        }
    }
}

pub(super) fn targets(o: &mut Out, old: &Policy, new: &Policy) {
    let list = |p: &Policy| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in &p.targets {
            let share = t.metric.is_share();
            m.entry(t.metric.name().to_string())
                .or_default()
                .push(format!(
                    "{} {}",
                    words::op(t.op),
                    words::bound(share, t.bound)
                ));
        }
        m
    };
    for (metric, (a, b)) in by_name(list(old), list(new)) {
        o.seq(&metric, "", &a.unwrap_or_default(), &b.unwrap_or_default());
    }
}

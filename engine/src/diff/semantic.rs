//! The semantic diff: what two compiled policies decide differently by
//! construction, part by part, named the way the policy names them.
//!
//! Parts are matched by name (a category, a grade, a department, a
//! threshold), never by their compiled index, so reordering declarations is
//! no change. Lists whose order matters (grading lines, assist lines, ladder
//! steps) are compared as sequences, so a line moved up is a change.

use std::collections::BTreeMap;

use serde::Serialize;
use whistle_grammar::bundle::Bundle;

use super::PolicyInfo;
use super::words::{level, limit};
use super::{categories, oversight};
use crate::model::Policy;

/// The part of a policy a change is in. Sections come out in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// The header: name, version, effective date, time zone.
    Policy,
    /// The `levels` ladder.
    Levels,
    /// The `grades` order and each grade's level and limits.
    Grades,
    /// Departments.
    Departments,
    /// The responsibility list: one subject per category.
    Categories,
    /// The fallback route.
    Fallback,
    /// The empowerment list, per category.
    Empowerment,
    /// The relief (burden-reduction) list, per category.
    Relief,
    /// Escalation ladders.
    Ladders,
    /// Threshold warnings.
    Thresholds,
    /// Assessment weights.
    Assessment,
    /// Targets.
    Targets,
    /// The working calendar.
    Calendar,
    /// The area tree (`areas.yaml`).
    Areas,
}

impl Section {
    /// The heading the words use.
    pub fn title(self) -> &'static str {
        match self {
            Section::Policy => "policy",
            Section::Levels => "levels",
            Section::Grades => "grades",
            Section::Departments => "departments",
            Section::Categories => "categories",
            Section::Fallback => "fallback",
            Section::Empowerment => "empowerment list",
            Section::Relief => "relief list",
            Section::Ladders => "escalation ladders",
            Section::Thresholds => "thresholds",
            Section::Assessment => "assessment weights",
            Section::Targets => "targets",
            Section::Calendar => "calendar",
            Section::Areas => "areas",
        }
    }
}

/// What happened to a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only the new policy has it.
    Added,
    /// Only the old policy has it.
    Removed,
    /// Both have it, differently.
    Changed,
}

/// One change in meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where it is.
    pub section: Section,
    /// What changed: a category, grade, department, threshold, ladder
    /// (`default ladder`, `ladder for red`), a level of a list, a date…
    pub subject: String,
    /// Which part of the subject (`lead`, `red resolve`, `grade`); empty
    /// when the whole subject was added or removed.
    pub aspect: String,
    /// Added, removed or changed.
    pub change: ChangeKind,
    /// The old value in words (`None` when added).
    pub old: Option<String>,
    /// The new value in words (`None` when removed).
    pub new: Option<String>,
}

/// Every change in meaning between two policies, in a fixed order: by
/// section, then by subject name (or policy order where it matters), then
/// by aspect. Its `Display` is the words for a policy officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SemanticDiff {
    /// The old policy.
    pub old: PolicyInfo,
    /// The new policy.
    pub new: PolicyInfo,
    /// The changes.
    pub changes: Vec<Change>,
}

impl SemanticDiff {
    /// Whether the two policies mean the same (they may still differ in
    /// comments and layout).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The number of changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }
}

/// Collects changes of one section.
pub(crate) struct Out {
    pub changes: Vec<Change>,
    pub section: Section,
}

impl Out {
    pub fn push(
        &mut self,
        subject: &str,
        aspect: &str,
        change: ChangeKind,
        old: Option<String>,
        new: Option<String>,
    ) {
        self.changes.push(Change {
            section: self.section,
            subject: subject.to_string(),
            aspect: aspect.to_string(),
            change,
            old,
            new,
        });
    }

    /// A change when the two values differ.
    pub fn value(&mut self, subject: &str, aspect: &str, old: Option<String>, new: Option<String>) {
        if old != new {
            self.push(subject, aspect, ChangeKind::Changed, old, new);
        }
    }

    /// Compares two ordered lists: removed and added items, and an item
    /// replaced in place as one change.
    pub fn seq(&mut self, subject: &str, aspect: &str, old: &[String], new: &[String]) {
        use similar::{Algorithm, DiffOp, capture_diff_slices};
        if old == new {
            return;
        }
        // The same lines in another order: one change that shows both
        // orders (first match wins, so the order is the meaning).
        let (mut a, mut b) = (old.to_vec(), new.to_vec());
        a.sort();
        b.sort();
        if a == b {
            let aspect = if aspect.is_empty() {
                "order".to_string()
            } else {
                format!("{aspect} order")
            };
            self.push(
                subject,
                &aspect,
                ChangeKind::Changed,
                Some(old.join(" / ")),
                Some(new.join(" / ")),
            );
            return;
        }
        for op in capture_diff_slices(Algorithm::Myers, old, new) {
            match op {
                DiffOp::Equal { .. } => {}
                DiffOp::Delete {
                    old_index, old_len, ..
                } => {
                    for x in &old[old_index..old_index + old_len] {
                        self.push(subject, aspect, ChangeKind::Removed, Some(x.clone()), None);
                    }
                }
                DiffOp::Insert {
                    new_index, new_len, ..
                } => {
                    for x in &new[new_index..new_index + new_len] {
                        self.push(subject, aspect, ChangeKind::Added, None, Some(x.clone()));
                    }
                }
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    let (o, n) = (
                        &old[old_index..old_index + old_len],
                        &new[new_index..new_index + new_len],
                    );
                    for i in 0..o.len().max(n.len()) {
                        let (a, b) = (o.get(i).cloned(), n.get(i).cloned());
                        let kind = match (&a, &b) {
                            (Some(_), Some(_)) => ChangeKind::Changed,
                            (Some(_), None) => ChangeKind::Removed,
                            _ => ChangeKind::Added,
                        };
                        self.push(subject, aspect, kind, a, b);
                    }
                }
            }
        }
    }
}

/// Pairs two lists of named things by name, in name order.
pub(crate) fn by_name<A, B>(
    old: impl IntoIterator<Item = (String, A)>,
    new: impl IntoIterator<Item = (String, B)>,
) -> BTreeMap<String, (Option<A>, Option<B>)> {
    let mut m: BTreeMap<String, (Option<A>, Option<B>)> = BTreeMap::new();
    for (k, a) in old {
        m.entry(k).or_insert((None, None)).0 = Some(a);
    }
    for (k, b) in new {
        m.entry(k).or_insert((None, None)).1 = Some(b);
    }
    m
}

/// Compares the compiled policies. The calendar's days and hours are not
/// kept in a compiled policy in a form that can be named, so this reports
/// only *that* working time changed; [`semantic_with_sources`] names the
/// holidays, make-up days and hours.
pub fn semantic(old: &Policy, new: &Policy) -> SemanticDiff {
    compare(old, new, None)
}

/// Compares the compiled policies and, for the calendar, the bundles they
/// were compiled from: holidays and make-up days with their labels, and
/// the working hours of each weekday.
pub fn semantic_with_sources(
    old: &Policy,
    new: &Policy,
    old_bundle: &Bundle,
    new_bundle: &Bundle,
) -> SemanticDiff {
    compare(old, new, Some((old_bundle, new_bundle)))
}

fn compare(old: &Policy, new: &Policy, sources: Option<(&Bundle, &Bundle)>) -> SemanticDiff {
    let mut changes = Vec::new();
    let mut section = |s: Section, f: &mut dyn FnMut(&mut Out)| {
        let mut out = Out {
            changes: Vec::new(),
            section: s,
        };
        f(&mut out);
        changes.extend(out.changes);
    };
    section(Section::Policy, &mut |o| header(o, old, new));
    section(Section::Levels, &mut |o| {
        let names = |p: &Policy| Some(p.levels.join(" < "));
        o.value("levels", "", names(old), names(new));
    });
    section(Section::Grades, &mut |o| grades(o, old, new));
    section(Section::Departments, &mut |o| departments(o, old, new));
    section(Section::Categories, &mut |o| {
        categories::categories(o, old, new)
    });
    section(Section::Fallback, &mut |o| {
        categories::route(o, "fallback", (old, &old.fallback), (new, &new.fallback));
    });
    section(Section::Empowerment, &mut |o| {
        categories::empowerment(o, old, new)
    });
    section(Section::Relief, &mut |o| categories::relief(o, old, new));
    section(Section::Ladders, &mut |o| oversight::ladders(o, old, new));
    section(Section::Thresholds, &mut |o| {
        oversight::thresholds(o, old, new)
    });
    section(Section::Assessment, &mut |o| {
        oversight::assessment(o, old, new)
    });
    section(Section::Targets, &mut |o| oversight::targets(o, old, new));
    section(Section::Calendar, &mut |o| match sources {
        Some((a, b)) => super::calendar::compare(o, a, b),
        None => super::calendar::compare_compiled(o, old, new),
    });
    section(Section::Areas, &mut |o| super::calendar::areas(o, old, new));
    SemanticDiff {
        old: PolicyInfo::of(old),
        new: PolicyInfo::of(new),
        changes,
    }
}

fn header(o: &mut Out, old: &Policy, new: &Policy) {
    let s = |x: &str| Some(x.to_string());
    o.value("policy", "name", s(&old.name), s(&new.name));
    o.value("policy", "version", s(&old.version), s(&new.version));
    let eff = |p: &Policy| p.effective.as_deref().map(str::to_string);
    o.value("policy", "effective", eff(old), eff(new));
    let tz = |p: &Policy| p.calendar.time_zone().iana_name().map(str::to_string);
    o.value("policy", "time zone", tz(old), tz(new));
}

fn named_grades(p: &Policy) -> Vec<(String, &crate::model::Grade)> {
    p.grades.iter().map(|g| (g.name.to_string(), g)).collect()
}

fn grades(o: &mut Out, old: &Policy, new: &Policy) {
    let order = |p: &Policy| {
        let names: Vec<&str> = p.grades.iter().map(|g| &*g.name).collect();
        Some(names.join(" < "))
    };
    o.value("grades", "order", order(old), order(new));
    let summary = |p: &Policy, g: &crate::model::Grade| {
        format!(
            "level {}, respond {}, resolve {}",
            level(p, g.level),
            limit(&g.respond),
            limit(&g.resolve)
        )
    };
    // Grades in severity order (new first, then the removed ones), not by name.
    let mut names: Vec<String> = new.grades.iter().map(|g| g.name.to_string()).collect();
    names.extend(
        old.grades
            .iter()
            .map(|g| g.name.to_string())
            .filter(|n| new.grade_id(n).is_none()),
    );
    let pairs = by_name(named_grades(old), named_grades(new));
    for name in names {
        match pairs.get(&name) {
            Some((Some(a), Some(b))) => {
                o.value(
                    &name,
                    "level",
                    Some(level(old, a.level)),
                    Some(level(new, b.level)),
                );
                o.value(
                    &name,
                    "respond",
                    Some(limit(&a.respond)),
                    Some(limit(&b.respond)),
                );
                o.value(
                    &name,
                    "resolve",
                    Some(limit(&a.resolve)),
                    Some(limit(&b.resolve)),
                );
            }
            Some((None, Some(b))) => {
                o.push(&name, "", ChangeKind::Added, None, Some(summary(new, b)));
            }
            Some((Some(a), None)) => {
                o.push(&name, "", ChangeKind::Removed, Some(summary(old, a)), None);
            }
            _ => {}
        }
    }
}

fn departments(o: &mut Out, old: &Policy, new: &Policy) {
    let list = |p: &Policy| {
        p.departments
            .iter()
            .map(|d| (d.name.to_string(), d.clone()))
            .collect::<Vec<_>>()
    };
    let lvl = |p: &Policy, d: &crate::model::Department| d.level.map(|l| level(p, l));
    let summary = |p: &Policy, d: &crate::model::Department| {
        let mut parts = Vec::new();
        parts.extend(d.display.as_deref().map(|s| format!("\"{s}\"")));
        parts.extend(lvl(p, d).map(|l| format!("level {l}")));
        if d.external {
            parts.push("external".into());
        }
        parts.join(", ")
    };
    for (name, pair) in by_name(list(old), list(new)) {
        match pair {
            (Some(a), Some(b)) => {
                let disp = |d: &crate::model::Department| d.display.as_deref().map(str::to_string);
                o.value(&name, "name", disp(&a), disp(&b));
                o.value(&name, "level", lvl(old, &a), lvl(new, &b));
                let ext = |d: &crate::model::Department| {
                    Some(if d.external { "external" } else { "government" }.to_string())
                };
                o.value(&name, "kind", ext(&a), ext(&b));
            }
            (None, Some(b)) => o.push(&name, "", ChangeKind::Added, None, Some(summary(new, &b))),
            (Some(a), None) => o.push(&name, "", ChangeKind::Removed, Some(summary(old, &a)), None),
            (None, None) => {}
        }
    }
}

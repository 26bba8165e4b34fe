//! Replaying events under two policies: [`ImpactBuilder`].
//!
//! Each side (old, new) owns a [`Router`] — so each keeps its own `repeats`
//! history — and its own deadline-load counters. A batch is decided on two
//! threads, one per side; each side boils its decisions down to a small
//! [`Outcome`] with department ids already mapped to one shared numbering,
//! so the serial part that compares the two only compares integers and
//! instants.

use std::sync::Arc;

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::PolicyInfo;
use super::impact::{
    CategoryImpact, DepartmentLoad, Example, Field, FieldCounts, Impact, ImpactOptions, Pair,
    Rejected, Shift, Shifts, sorted,
};
use super::words;
use crate::decision_json::instant;
use crate::event::Event;
use crate::model::{GradeId, LevelId, Policy};
use crate::router::Router;

/// What the comparison needs of a decision.
struct Outcome {
    grade: GradeId,
    level: LevelId,
    /// Lead and assisting departments in the shared numbering; assist sorted.
    lead: u32,
    assist: SmallVec<[u32; 6]>,
    unit: Option<crate::lifecycle::Name>,
    on_the_spot: bool,
    fallback: bool,
    respond_by: Timestamp,
    resolve_by: Timestamp,
}

/// Events rejected by each policy's schema that the report names.
const REJECTED_SHOWN: usize = 5;

/// One policy's half of the replay.
struct Side<'p> {
    policy: &'p Policy,
    router: Router<'p>,
    /// This policy's department ids → the shared numbering.
    dept: Vec<u32>,
    led: Vec<u64>,
    assisted: Vec<u64>,
    resolve_secs: Vec<u64>,
    rejected: u64,
    /// The first events rejected, with why.
    rejected_first: Vec<(String, String)>,
}

impl<'p> Side<'p> {
    fn new(policy: &'p Policy, dept: Vec<u32>, depts: usize) -> Side<'p> {
        Side {
            policy,
            router: Router::new(policy),
            dept,
            led: vec![0; depts],
            assisted: vec![0; depts],
            resolve_secs: vec![0; depts],
            rejected: 0,
            rejected_first: Vec::new(),
        }
    }

    fn map(&self, d: u16) -> u32 {
        self.dept.get(usize::from(d)).copied().unwrap_or(u32::MAX)
    }

    /// Decides one event (remembering it for `repeats`) and counts its load.
    fn decide(&mut self, ev: &Event) -> Option<Outcome> {
        let d = match self.router.route_event(ev) {
            Ok(d) => d,
            Err(e) => {
                self.rejected += 1;
                if self.rejected_first.len() < REJECTED_SHOWN {
                    self.rejected_first.push((ev.id.to_string(), e.0));
                }
                return None;
            }
        };
        let lead = self.map(d.lead);
        let mut assist: SmallVec<[u32; 6]> = d.assist.iter().map(|x| self.map(*x)).collect();
        assist.sort_unstable();
        let secs = d
            .resolve_by
            .as_second()
            .saturating_sub(d.reported_at.as_second());
        let i = lead as usize;
        if let (Some(n), Some(s)) = (self.led.get_mut(i), self.resolve_secs.get_mut(i)) {
            *n += 1;
            *s += u64::try_from(secs).unwrap_or(0);
        }
        for &x in &assist {
            if let Some(n) = self.assisted.get_mut(x as usize) {
                *n += 1;
            }
        }
        Some(Outcome {
            grade: d.grade,
            level: d.level,
            lead,
            assist,
            unit: d.unit,
            on_the_spot: d.on_the_spot,
            fallback: d.fallback,
            respond_by: d.respond_by,
            resolve_by: d.resolve_by,
        })
    }
}

#[derive(Default)]
struct CategoryAcc {
    events: u64,
    changed: u64,
    changes: FieldCounts,
    examples: Vec<Example>,
    kept: [usize; 9],
}

/// Decides events under both policies as they come, and sums up.
///
/// Feed it events in their order (report order, as the store holds them)
/// with [`add_batch`](Self::add_batch) — the two policies decide a batch
/// in parallel — or [`add`](Self::add), then call [`finish`](Self::finish).
pub struct ImpactBuilder<'p> {
    old: Side<'p>,
    new: Side<'p>,
    opts: ImpactOptions,
    /// Departments of both policies by name: the shared numbering.
    dept_names: Vec<Arc<str>>,
    /// Old grade and level ids → the new ids of the same names.
    grade_map: Vec<Option<GradeId>>,
    level_map: Vec<Option<LevelId>>,
    events: u64,
    changed: u64,
    changes: FieldCounts,
    category_index: FxHashMap<Box<str>, usize>,
    categories: Vec<(Box<str>, CategoryAcc)>,
    grade_shifts: FxHashMap<(GradeId, GradeId), u64>,
    lead_shifts: FxHashMap<(u32, u32), u64>,
    level_shifts: FxHashMap<(LevelId, LevelId), u64>,
}

impl<'p> ImpactBuilder<'p> {
    /// A builder with no events yet; each policy starts with no history.
    pub fn new(old: &'p Policy, new: &'p Policy, opts: ImpactOptions) -> ImpactBuilder<'p> {
        let mut dept_names: Vec<Arc<str>> = Vec::new();
        let mut index: FxHashMap<Arc<str>, u32> = FxHashMap::default();
        let mut ids = |p: &Policy| -> Vec<u32> {
            p.departments
                .iter()
                .map(|d| {
                    *index.entry(d.name.clone()).or_insert_with(|| {
                        dept_names.push(d.name.clone());
                        u32::try_from(dept_names.len() - 1).unwrap_or(u32::MAX)
                    })
                })
                .collect()
        };
        let (old_dept, new_dept) = (ids(old), ids(new));
        let n = dept_names.len();
        ImpactBuilder {
            old: Side::new(old, old_dept, n),
            new: Side::new(new, new_dept, n),
            opts,
            dept_names,
            grade_map: old.grades.iter().map(|g| new.grade_id(&g.name)).collect(),
            level_map: old.levels.iter().map(|l| new.level_id(l)).collect(),
            events: 0,
            changed: 0,
            changes: FieldCounts::default(),
            category_index: FxHashMap::default(),
            categories: Vec::new(),
            grade_shifts: FxHashMap::default(),
            lead_shifts: FxHashMap::default(),
            level_shifts: FxHashMap::default(),
        }
    }

    /// Decides one event under both policies (on this thread).
    pub fn add(&mut self, ev: &Event) {
        let a = self.old.decide(ev);
        let b = self.new.decide(ev);
        self.record(ev, a, b);
    }

    /// Decides a batch of events, in order, under both policies at once.
    pub fn add_batch(&mut self, events: &[Event]) {
        let (old, new) = (&mut self.old, &mut self.new);
        let (a, b) = rayon::join(
            || events.iter().map(|e| old.decide(e)).collect::<Vec<_>>(),
            || events.iter().map(|e| new.decide(e)).collect::<Vec<_>>(),
        );
        for ((ev, a), b) in events.iter().zip(a).zip(b) {
            self.record(ev, a, b);
        }
    }

    fn record(&mut self, ev: &Event, a: Option<Outcome>, b: Option<Outcome>) {
        // An event one policy's schema rejects was counted by that side.
        let (Some(a), Some(b)) = (a, b) else {
            return;
        };
        self.events += 1;
        let mut changed: SmallVec<[Field; 9]> = SmallVec::new();
        if self.grade_map.get(usize::from(a.grade)).copied().flatten() != Some(b.grade) {
            changed.push(Field::Grade);
            *self.grade_shifts.entry((a.grade, b.grade)).or_default() += 1;
        }
        if a.lead != b.lead {
            changed.push(Field::Lead);
            *self.lead_shifts.entry((a.lead, b.lead)).or_default() += 1;
        }
        if a.assist != b.assist {
            changed.push(Field::Assist);
        }
        if self.level_map.get(usize::from(a.level)).copied().flatten() != Some(b.level) {
            changed.push(Field::Level);
            *self.level_shifts.entry((a.level, b.level)).or_default() += 1;
        }
        if a.unit.as_deref() != b.unit.as_deref() {
            changed.push(Field::Unit);
        }
        if a.on_the_spot != b.on_the_spot {
            changed.push(Field::OnTheSpot);
        }
        if a.fallback != b.fallback {
            changed.push(Field::Fallback);
        }
        if a.respond_by != b.respond_by {
            changed.push(Field::RespondBy);
        }
        if a.resolve_by != b.resolve_by {
            changed.push(Field::ResolveBy);
        }

        let ci = self.category_slot(&ev.category);
        let limit = self.opts.examples;
        let cat = &mut self.categories[ci].1;
        cat.events += 1;
        if changed.is_empty() {
            return;
        }
        cat.changed += 1;
        let mut want: SmallVec<[Field; 9]> = SmallVec::new();
        for &f in &changed {
            cat.changes.bump(f);
            let kept = &mut cat.kept[f as usize];
            if *kept < limit {
                *kept += 1;
                want.push(f);
            }
        }
        self.changed += 1;
        for &f in &changed {
            self.changes.bump(f);
        }
        // Examples are worded only while a slot is free: most changed
        // events cost no strings at all.
        let examples: Vec<Example> = want
            .iter()
            .map(|&f| self.example(&ev.id, f, &a, &b))
            .collect();
        self.categories[ci].1.examples.extend(examples);
    }

    fn category_slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.category_index.get(name) {
            return i;
        }
        let i = self.categories.len();
        self.category_index.insert(name.into(), i);
        self.categories.push((name.into(), CategoryAcc::default()));
        i
    }

    fn dept_name(&self, i: u32) -> String {
        self.dept_names
            .get(i as usize)
            .map_or_else(|| "?".to_string(), |n| n.to_string())
    }

    fn example(&self, id: &str, f: Field, a: &Outcome, b: &Outcome) -> Example {
        let (po, pn) = (self.old.policy, self.new.policy);
        let assist = |o: &Outcome| {
            let mut names: Vec<String> = o.assist.iter().map(|x| self.dept_name(*x)).collect();
            names.sort();
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        let mut shift = None;
        let (old, new) = match f {
            Field::Grade => (
                Some(words::grade(po, a.grade)),
                Some(words::grade(pn, b.grade)),
            ),
            Field::Lead => (Some(self.dept_name(a.lead)), Some(self.dept_name(b.lead))),
            Field::Assist => (Some(assist(a)), Some(assist(b))),
            Field::Level => (
                Some(words::level(po, a.level)),
                Some(words::level(pn, b.level)),
            ),
            Field::Unit => (
                a.unit.as_deref().map(str::to_string),
                b.unit.as_deref().map(str::to_string),
            ),
            Field::OnTheSpot => (
                Some(a.on_the_spot.to_string()),
                Some(b.on_the_spot.to_string()),
            ),
            Field::Fallback => (Some(a.fallback.to_string()), Some(b.fallback.to_string())),
            Field::RespondBy | Field::ResolveBy => {
                let (x, y) = if f == Field::RespondBy {
                    (a.respond_by, b.respond_by)
                } else {
                    (a.resolve_by, b.resolve_by)
                };
                shift = Some(y.as_second().saturating_sub(x.as_second()));
                (Some(instant(po, x)), Some(instant(pn, y)))
            }
        };
        Example {
            event_id: id.to_string(),
            field: f,
            old,
            new,
            shift_seconds: shift,
        }
    }

    /// Sums up.
    pub fn finish(self) -> Impact {
        let mut categories: Vec<CategoryImpact> = self
            .categories
            .into_iter()
            .map(|(name, c)| CategoryImpact {
                category: name.into(),
                events: c.events,
                changed: c.changed,
                changes: c.changes,
                examples: c.examples,
            })
            .collect();
        categories.sort_by(|a, b| {
            b.changed
                .cmp(&a.changed)
                .then_with(|| a.category.as_bytes().cmp(b.category.as_bytes()))
        });
        let (o, n) = (&self.old, &self.new);
        let hours = |s: u64| (s as f64 / 36.0).round() / 100.0;
        let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
        let mut departments: Vec<DepartmentLoad> = self
            .dept_names
            .iter()
            .enumerate()
            .map(|(i, name)| DepartmentLoad {
                department: name.to_string(),
                led: Pair {
                    old: at(&o.led, i),
                    new: at(&n.led, i),
                },
                assisted: Pair {
                    old: at(&o.assisted, i),
                    new: at(&n.assisted, i),
                },
                resolve_hours: Pair {
                    old: hours(at(&o.resolve_secs, i)),
                    new: hours(at(&n.resolve_secs, i)),
                },
            })
            .filter(DepartmentLoad::changes)
            .collect();
        let moved = |d: &DepartmentLoad| d.led.old.abs_diff(d.led.new);
        let moved_h = |d: &DepartmentLoad| (d.resolve_hours.new - d.resolve_hours.old).abs();
        departments.sort_by(|a, b| {
            moved(b)
                .cmp(&moved(a))
                .then_with(|| moved_h(b).total_cmp(&moved_h(a)))
                .then_with(|| a.department.cmp(&b.department))
        });
        let (po, pn) = (o.policy, n.policy);
        let name = |i: u32| {
            self.dept_names
                .get(i as usize)
                .map_or_else(|| "?".to_string(), |n| n.to_string())
        };
        let shifts = Shifts {
            grade: sorted(self.grade_shifts.iter().map(|(&(x, y), &k)| Shift {
                old: words::grade(po, x),
                new: words::grade(pn, y),
                events: k,
            })),
            lead: sorted(self.lead_shifts.iter().map(|(&(x, y), &k)| Shift {
                old: name(x),
                new: name(y),
                events: k,
            })),
            level: sorted(self.level_shifts.iter().map(|(&(x, y), &k)| Shift {
                old: words::level(po, x),
                new: words::level(pn, y),
                events: k,
            })),
        };
        Impact {
            old: PolicyInfo::of(po),
            new: PolicyInfo::of(pn),
            events: self.events,
            changed: self.changed,
            rejected: Pair {
                old: o.rejected,
                new: n.rejected,
            },
            rejected_first: [("old", &o.rejected_first), ("new", &n.rejected_first)]
                .into_iter()
                .flat_map(|(by, list)| {
                    list.iter().map(move |(id, reason)| Rejected {
                        by,
                        event_id: id.clone(),
                        reason: reason.clone(),
                    })
                })
                .collect(),
            changes: self.changes,
            shifts,
            categories,
            departments,
        }
    }
}

//! How one event's contributions enter the groups' sums, change with its
//! transitions and passing deadlines, and leave as its windows slide.

use jiff::Timestamp;
use smallvec::SmallVec;

use super::group::{Bits, Measure};
use super::packed::Packed;
use super::window::{Slot, What};
use super::{Monitor, Seen, key_of, ns};
use crate::cond::{Cond, RepeatsBy};
use crate::decide::{Context, holds};
use crate::lifecycle::Case;
use crate::model::{GroupBy, Policy};
use crate::windows::{History, RepeatIndex};

/// `repeats` over the events seen, leaving out the event itself once it
/// was recorded.
struct SeenBefore<'a> {
    index: &'a RepeatIndex,
    recorded: bool,
}

impl History for SeenBefore<'_> {
    fn repeats(&self, category: &str, by: RepeatsBy, key: &str, window: u64, at: Timestamp) -> u32 {
        let n = self.index.repeats(category, by, key, window, at);
        if self.recorded {
            n.saturating_sub(1)
        } else {
            n
        }
    }
}

impl Monitor {
    /// Moves one slot's contributions from `old` facts/keys/bits to the
    /// slot's current ones, for every threshold it is live in (`None`:
    /// its keys and bits did not change).
    fn shift(&mut self, i: u32, old: Packed, old_keys_bits: Option<(&[u32], &Bits)>) {
        let Some(slot) = self.table.get(i) else {
            return;
        };
        let (old_keys, old_bits) = old_keys_bits.unwrap_or((&slot.keys, &slot.bits));
        let now_facts = slot.facts;
        for (t, def) in self.defs.iter_mut().enumerate() {
            if !slot.bits.live(t) {
                continue;
            }
            let (og, ng) = (
                old_keys.get(def.kind).copied().unwrap_or(0),
                slot.keys.get(def.kind).copied().unwrap_or(0),
            );
            let before = def.part(old, old_bits.cond(t));
            let after = def.part(now_facts, slot.bits.cond(t));
            if before == after && og == ng {
                continue;
            }
            let tt = u32::try_from(t).unwrap_or(u32::MAX);
            let a = def.group_mut(og);
            a.num -= before.0;
            a.den -= before.1;
            let b = def.group_mut(ng);
            b.num += after.0;
            b.den += after.1;
            self.dirty.push((tt, og));
            if ng != og {
                self.dirty.push((tt, ng));
            }
        }
    }

    /// Slot `i` leaves the windows that end by `at`; it is freed when it
    /// has left them all.
    pub(super) fn exit(&mut self, i: u32, at: i64) {
        let Some(slot) = self.table.get_mut(i) else {
            return;
        };
        let mut left_all = true;
        let facts = slot.facts;
        for (t, def) in self.defs.iter_mut().enumerate() {
            if !slot.bits.live(t) {
                continue;
            }
            if slot.reported.saturating_add(def.window) > at {
                left_all = false;
                continue;
            }
            slot.bits.set_live(t, false);
            let g = slot.keys.get(def.kind).copied().unwrap_or(0);
            let (num, den) = def.part(facts, slot.bits.cond(t));
            let a = def.group_mut(g);
            a.num -= num;
            a.den -= den;
            self.dirty.push((u32::try_from(t).unwrap_or(u32::MAX), g));
        }
        if left_all {
            self.table.remove(i);
        }
    }

    /// The lanes (windows, shortest first) where a slot with `bits` needs
    /// an exit: where leaving moves a value, and its last (it is freed
    /// then). Queued all at once when the slot is taken in, so that each
    /// window's exits are queued in report order.
    fn exit_lanes(&self, bits: &Bits) -> Lanes {
        let mut lanes = Lanes::default();
        let mut last = None;
        for (t, def) in self.defs.iter().enumerate() {
            if !bits.live(t) {
                continue;
            }
            last = last.max(Some(def.lane));
            if !def.quiet(bits.cond(t)) {
                lanes.add(def.lane);
            }
        }
        if let Some(l) = last {
            lanes.add(l);
        }
        lanes
    }

    fn queue_exits(&mut self, i: u32, reported: i64, lanes: Lanes) {
        for lane in lanes.in_order() {
            if let Some(&window) = self.windows.get(lane) {
                self.table
                    .push(reported.saturating_add(window), What::Exit, i, lane);
            }
        }
    }

    /// Brings every quiet event that left by `upto` out of its group.
    pub(super) fn let_leave(&mut self, upto: i64) {
        if self.leave_at > upto {
            return;
        }
        self.leave_at = i64::MAX;
        for def in &mut self.defs {
            if let Some(next) = def.let_leave(upto) {
                self.leave_at = self.leave_at.min(next);
            }
        }
    }

    pub(super) fn deadline(&mut self, i: u32, what: What) {
        let Some(slot) = self.table.get_mut(i) else {
            return;
        };
        let old = slot.facts;
        slot.facts = match what {
            What::Respond => old.missed(false),
            What::Resolve => old.missed(true),
            What::Exit => return,
        };
        self.table.passed(i);
        self.shift(i, old, None);
    }

    /// Queues the deadlines of a slot that became pending (or moved), and
    /// lets go of those queued that no longer hold: `was` as last seen
    /// (`None`: a new slot), `now` as the case stands.
    ///
    /// A deadline met or moved stays in the queue, and is dropped when it
    /// comes up by its stamp ([`super::window::Table::is_live`]): finding it
    /// in the queue to take it out would cost more than that.
    fn queue_deadlines(&mut self, i: u32, was: Option<&Seen>, now: &Seen) {
        if !self.deadlines {
            return;
        }
        let clocks = [
            (What::Respond, Packed::respond_pending as fn(Packed) -> bool),
            (What::Resolve, Packed::resolve_pending),
        ];
        for (what, pending) in clocks {
            let by = |s: &Seen| match what {
                What::Respond => s.respond_by,
                _ => s.resolve_by,
            };
            // A deadline that passed since `was` is no longer queued, but
            // the case cannot be pending at that instant any more either.
            let queued = was.filter(|w| pending(w.facts));
            let stands = pending(now.facts) && queued.is_some_and(|w| by(w) == by(now));
            if queued.is_some() && !stands {
                self.table.drop_deadline(i, what);
            }
            if pending(now.facts) && !stands {
                self.table.push(by(now).saturating_add(1), what, i, 0);
            }
        }
    }

    fn cond_holds(
        &self,
        policy: &Policy,
        cond: Option<&Cond>,
        case: &Case,
        recorded: bool,
    ) -> bool {
        let Some(cond) = cond else {
            return true;
        };
        let grade = policy.grade_of(&case.grade);
        let history: &dyn History = match &self.repeats {
            Some(index) => &SeenBefore { index, recorded },
            None => &crate::windows::NoHistory,
        };
        let ctx = Context {
            history,
            reopened: case.reopened,
        };
        holds(policy, &case.event, cond, grade, &ctx)
    }

    /// Takes in a change of an event the monitor holds in slot `i`:
    /// `hinted`, what the caller's hint saw of it last (`None`: read the
    /// slot). Returns what the monitor now saw.
    pub(super) fn update(
        &mut self,
        policy: &Policy,
        i: u32,
        case: &Case,
        packed: Packed,
        hinted: Option<Seen>,
    ) -> Option<Seen> {
        // A table that finds events by id keeps what it saw of each: a
        // caller may come by hint or by id, so that is what counts.
        let hinted = hinted.filter(|_| !self.table.has_ids());
        let was = match hinted {
            Some(seen) => seen,
            None => {
                let slot = self.table.get(i)?;
                let (respond_by, resolve_by) = self.table.deadlines(i).unwrap_or_default();
                Seen {
                    facts: slot.facts,
                    respond_by,
                    resolve_by,
                    lead: self
                        .dept_kind
                        .and_then(|k| slot.keys.get(k).copied())
                        .unwrap_or(u32::MAX),
                }
            }
        };
        let mut now = Seen {
            facts: packed,
            respond_by: ns(case.respond_by),
            resolve_by: ns(case.resolve_by),
            lead: was.lead,
        };
        // The lead changes only on a reassignment: comparing it with the
        // name held is cheaper than interning it again.
        let lead_moved = self
            .dept_kind
            .is_some_and(|k| !self.names[k].is(was.lead, &case.lead));
        // Most transitions (an acceptance, a resolution in time) change
        // nothing a threshold reads: no sum moves, and with the caller's
        // hint the slot is not even read (at a city's volume it is far out
        // of cache). A deadline that passed unmet since changed the
        // slot's facts: then the slot is what is compared.
        let fired = hinted.is_some() && self.table.fired(i);
        let quiet = !(lead_moved
            || self.dynamic
            || fired
            || was.facts.differs(packed, self.reads.0, self.reads.1));
        if quiet {
            if hinted.is_none()
                && let Some(slot) = self.table.get_mut(i)
            {
                slot.facts = packed;
                self.table
                    .set_deadlines(i, (now.respond_by, now.resolve_by));
            }
            self.queue_deadlines(i, Some(&was), &now);
            return Some(now);
        }
        let slot = self.table.get(i)?;
        let old_packed = slot.facts;
        let (old_keys, old_bits) = (slot.keys.clone(), slot.bits.clone());
        let mut keys = old_keys.clone();
        if lead_moved
            && let Some(k) = self.dept_kind
            && let Some(key) = keys.get_mut(k)
        {
            *key = self.names[k].intern_numbered(
                policy,
                GroupBy::Department,
                policy.dept_of(&case.lead).map(usize::from),
                &case.lead,
                Some(&case.lead),
            );
            now.lead = *key;
        }
        let mut bits = old_bits.clone();
        for (t, def) in self.defs.iter().enumerate() {
            if let Measure::Count {
                cond: Some(c),
                dynamic: true,
            } = &def.measure
            {
                bits.set_cond(t, self.cond_holds(policy, Some(c), case, true));
            }
        }
        if let Some(slot) = self.table.get_mut(i) {
            slot.facts = packed;
            slot.keys = keys;
            slot.bits = bits;
        }
        self.table
            .set_deadlines(i, (now.respond_by, now.resolve_by));
        self.table.observed(i);
        self.shift(i, old_packed, Some((&old_keys, &old_bits)));
        self.queue_deadlines(i, Some(&was), &now);
        Some(now)
    }

    /// Takes in an event the monitor does not hold; returns its slot and
    /// what it saw, or `None` when it is already outside every window.
    pub(super) fn insert(
        &mut self,
        policy: &Policy,
        case: &Case,
        facts: Packed,
        now: i64,
        hint: &super::Hint,
    ) -> Option<(u32, Seen)> {
        let reported = ns(case.event.reported_at);
        let mut bits = Bits::default();
        let mut live = false;
        for (t, def) in self.defs.iter().enumerate() {
            if now < reported.saturating_add(def.window) {
                bits.set_live(t, true);
                live = true;
            }
        }
        if !live {
            return None;
        }
        let keys = self.keys_of(policy, case, hint.grid, hint.category);
        let by_kind = self.by_category_and_source(policy, case);
        for (t, def) in self.defs.iter().enumerate() {
            if let Measure::Count { cond, .. } = &def.measure {
                let holds = match by_kind {
                    Some(mask) if t < 64 && self.by_kind_defs & (1 << t) != 0 => {
                        mask & (1 << t) != 0
                    }
                    _ => self.cond_holds(policy, cond.as_ref(), case, false),
                };
                bits.set_cond(t, holds);
            }
        }
        if let Some(index) = &mut self.repeats {
            let units = policy.units_of(case.event.grid.as_str());
            index.record(&case.event, units);
        }
        let lanes = self.exit_lanes(&bits);
        for (t, def) in self.defs.iter_mut().enumerate() {
            if !bits.live(t) {
                continue;
            }
            let g = keys.get(def.kind).copied().unwrap_or(0);
            let (num, den) = def.part(facts, bits.cond(t));
            let a = def.group_mut(g);
            a.num += num;
            a.den += den;
            if !def.quiet(bits.cond(t)) {
                self.dirty.push((u32::try_from(t).unwrap_or(u32::MAX), g));
            } else if !lanes.has(def.lane) {
                // No value moved, and no exit is queued at this window's
                // end: the event leaves this count of events by
                // `Def::let_leave` instead, and the slot forgets it.
                let end = reported.saturating_add(def.window);
                def.will_leave(end, g);
                self.leave_at = self.leave_at.min(end);
                bits.set_live(t, false);
            }
        }
        let seen = Seen {
            facts,
            respond_by: ns(case.respond_by),
            resolve_by: ns(case.resolve_by),
            lead: self
                .dept_kind
                .and_then(|k| keys.get(k).copied())
                .unwrap_or(u32::MAX),
        };
        let i = self.table.insert(
            Slot {
                reported,
                facts,
                keys,
                bits,
            },
            &case.event.id,
            (seen.respond_by, seen.resolve_by),
        );
        self.queue_exits(i, reported, lanes);
        self.queue_deadlines(i, None, &seen);
        Some((i, seen))
    }

    /// For the thresholds whose COND reads only `category` and `source`
    /// (`by_kind_defs`), whether it holds, one bit per threshold: worked
    /// out once per category and source instead of for every event.
    fn by_category_and_source(&mut self, policy: &Policy, case: &Case) -> Option<u64> {
        if self.by_kind_defs == 0 {
            return None;
        }
        let source = case.event.source.index();
        let category = case.event.category.as_str();
        if let Some(m) = self
            .by_kind
            .get(category)
            .and_then(|m| m.get(source).copied().flatten())
        {
            return Some(m);
        }
        let mut mask = 0u64;
        for (t, def) in self.defs.iter().enumerate().take(64) {
            if self.by_kind_defs & (1 << t) != 0
                && let Measure::Count { cond, .. } = &def.measure
                && self.cond_holds(policy, cond.as_ref(), case, false)
            {
                mask |= 1 << t;
            }
        }
        let row = self.by_kind.entry(category.into()).or_default();
        if let Some(m) = row.get_mut(source) {
            *m = Some(mask);
        }
        Some(mask)
    }

    /// The event's group id of each kind. The units above a grid never
    /// change under one policy, so their ids are interned once per grid
    /// and the grid's name is the only lookup for them (none for a grid the
    /// caller numbers, [`super::Hint::on_grid`], once seen).
    fn keys_of(
        &mut self,
        policy: &Policy,
        case: &Case,
        number: u32,
        category: u32,
    ) -> SmallVec<[u32; 4]> {
        let grid = case.event.grid.as_str();
        let numbered = (number != u32::MAX).then_some(number as usize);
        let known = numbered.and_then(|n| self.by_grid_number.get(n).cloned().flatten());
        let mut keys = match known {
            Some(k) => k,
            None => {
                let k = match self.by_grid.get(grid) {
                    Some(k) => k.clone(),
                    None => {
                        let units = policy.units_of(grid);
                        let k: SmallVec<[u32; 4]> = self
                            .kinds
                            .iter()
                            .zip(self.names.iter_mut())
                            .map(|(by, names)| match by {
                                GroupBy::Level(_) => {
                                    names.intern(policy, *by, key_of(*by, case, units))
                                }
                                GroupBy::Department | GroupBy::Category => u32::MAX,
                            })
                            .collect();
                        self.by_grid.insert(grid.into(), k.clone());
                        k
                    }
                };
                if let Some(n) = numbered {
                    if self.by_grid_number.len() <= n {
                        self.by_grid_number.resize(n + 1, None);
                    }
                    if let Some(slot) = self.by_grid_number.get_mut(n) {
                        *slot = Some(k.clone());
                    }
                }
                k
            }
        };
        for ((key, by), names) in keys.iter_mut().zip(&self.kinds).zip(self.names.iter_mut()) {
            *key = match by {
                GroupBy::Level(_) => continue,
                GroupBy::Department => names.intern_numbered(
                    policy,
                    *by,
                    policy.dept_of(&case.lead).map(usize::from),
                    &case.lead,
                    Some(&case.lead),
                ),
                GroupBy::Category => names.intern_numbered(
                    policy,
                    *by,
                    (category != u32::MAX).then_some(category as usize),
                    &case.event.category,
                    None,
                ),
            };
        }
        keys
    }
}

/// A set of exit lanes: a bit each for the first 64, a list beyond (a
/// policy with that many window lengths is unheard of).
#[derive(Debug, Default)]
struct Lanes {
    low: u64,
    beyond: SmallVec<[usize; 2]>,
}

impl Lanes {
    fn add(&mut self, lane: usize) {
        if lane < 64 {
            self.low |= 1 << lane;
        } else if !self.beyond.contains(&lane) {
            self.beyond.push(lane);
        }
    }

    fn has(&self, lane: usize) -> bool {
        if lane < 64 {
            self.low & (1 << lane) != 0
        } else {
            self.beyond.contains(&lane)
        }
    }

    /// The lanes, shortest window first.
    fn in_order(mut self) -> impl Iterator<Item = usize> {
        self.beyond.sort_unstable();
        let mut low = self.low;
        std::iter::from_fn(move || {
            (low != 0).then(|| {
                let lane = low.trailing_zeros() as usize;
                low &= low - 1;
                lane
            })
        })
        .chain(self.beyond)
    }
}

//! What happens to an event between the loop's wake-ups: transitions
//! followed (raises move it, whistles summon), queues and handlers,
//! resolution, feedback and reopening, and the end of its life.

use super::*;

impl Run<'_> {
    /// Follows transitions: raises move the event, whistles summon, the
    /// threshold monitor sees the case, the next tick is planned.
    pub(super) fn after(&mut self, slot: u32, trans: &[Transition], opened: bool) {
        let policy = self.policy;
        let now = self.now;
        let week = self.week(now);
        let mut raised_to: Option<LevelId> = None;
        let needs = self.needs;
        let mut facts_changed = opened && needs.any;
        // Whether something may now be due earlier than the tick queued:
        // only a change that arms steps or summons can bring it forward.
        let mut armed = opened;
        for t in trans {
            match &t.change {
                Change::Raised { to_level, .. } => {
                    let l = policy.level_id(to_level).unwrap_or(0);
                    raised_to = Some(l);
                    facts_changed |= needs.raise;
                    if let Some(r) = self.stats.levels.get_mut(l as usize) {
                        r.raises += 1;
                    }
                    if let Some(s) = self.stats.week_raises.get_mut(l as usize) {
                        Collect::bump(s, week);
                    }
                }
                Change::Whistled { departments, .. } => {
                    armed = true;
                    self.stats.totals.whistled += departments.len() as u64;
                    self.summoned(slot, departments);
                }
                Change::StepFired { .. } => self.stats.totals.steps_fired += 1,
                Change::Reminded { .. } => self.stats.totals.reminders += 1,
                Change::Notified { .. } => self.stats.totals.notifications += 1,
                Change::AckOverdue { .. } => self.stats.totals.ack_overdue += 1,
                Change::Accepted { .. } => facts_changed |= needs.accept,
                Change::Resolved { .. } => facts_changed |= needs.resolve,
                Change::Closed { .. } => facts_changed |= needs.feedback,
                Change::Reopened { .. } => {
                    armed = true;
                    facts_changed |= needs.any;
                }
                Change::Redecided { .. }
                | Change::Reassigned { .. }
                | Change::PolicyAdopted { .. } => armed = true,
                _ => {}
            }
        }
        if let Some(level) = raised_to {
            self.raised(slot, level);
        }
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(case) = &s.case else { return };
        let alerts = facts_changed.then(|| {
            self.monitor
                .observe_with(policy, case, ts(now), &mut s.hint)
        });
        // A queued tick is never later than what was due when it was
        // queued, and without new steps or summons nothing comes due
        // earlier: only a case without a tick queued, or with new steps,
        // needs its next instant worked out.
        if (armed || s.tick_at == i64::MAX)
            && let Some(d) = case.wake_at(ts(now)).map(ceil_second)
            && d < s.tick_at
        {
            s.tick_at = d.max(now);
            let at = s.tick_at;
            self.push(at, slot, Kind::Tick, 0);
        }
        if let Some(alerts) = alerts {
            self.record_alerts(alerts);
        }
    }

    /// Plans the acknowledgement of each department just summoned.
    pub(super) fn summoned(&mut self, slot: u32, departments: &[crate::lifecycle::Name]) {
        let now = self.now;
        let policy = self.policy;
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(case) = &s.case else { return };
        let mut plans = Vec::with_capacity(departments.len());
        for name in departments {
            let Some(i) = case
                .summoned
                .iter()
                .rposition(|m| m.department == *name && m.pending())
            else {
                continue;
            };
            let dist = policy
                .dept_id(name)
                .and_then(|d| self.staff.dept_ack.get(d as usize))
                .and_then(Option::as_ref)
                .unwrap_or(&self.plan.ack);
            plans.push((
                now + dist.seconds(&mut s.rng),
                u32::try_from(i).unwrap_or(0),
            ));
        }
        for (at, i) in plans {
            self.push(at, slot, Kind::Ack, i);
        }
    }

    /// The ladder raised an open event to `level`: it is counted there, and
    /// if it was not being worked on yet, the higher level takes it over.
    pub(super) fn raised(&mut self, slot: u32, level: LevelId) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let before = s.counted;
        let to = before.map(|(_, d)| (level, d));
        s.counted = to;
        let phase = s.phase;
        let pool = s.pool;
        let since = s.since;
        if phase == Phase::Queued {
            s.queue_ticket = s.queue_ticket.wrapping_add(1);
        }
        self.stats.open_move(before, to);
        match phase {
            Phase::Accepting => self.dispatch(slot),
            Phase::Queued => {
                if let Some(p) = self.pools.pools.get_mut(pool as usize) {
                    // The wait here ends unserved: it still counts.
                    p.waited(self.now - since);
                    p.waiting = p.waiting.saturating_sub(1);
                    crate::sim::stats::dec(&mut self.stats.queued_by_level, p.level as usize);
                }
                self.requeue(slot);
            }
            _ => {}
        }
    }

    /// Puts an accepted event in the queue of its current level's pool.
    pub(super) fn requeue(&mut self, slot: u32) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(case) = &s.case else { return };
        let level = s.counted.map_or(0, |(l, _)| l);
        let kind = self.staff.kind_for(level, s.lead);
        let handlers = self
            .staff
            .kinds
            .get(kind as usize)
            .map_or(1, |k| k.plan.handlers);
        let pool = self
            .pools
            .get(kind, case.unit.as_ref(), level, handlers, self.plan.queue);
        s.pool = pool;
        self.enqueue(slot);
    }

    pub(super) fn accept(&mut self, slot: u32) {
        if self.act(slot, Action::Accept { by: None })
            && self
                .slots
                .get(slot as usize)
                .is_some_and(|s| s.phase == Phase::Accepting)
        {
            self.enqueue(slot);
        }
    }

    pub(super) fn enqueue(&mut self, slot: u32) {
        let now = self.now;
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(case) = &s.case else { return };
        let deadline = case.resolve_by.as_second();
        s.phase = Phase::Queued;
        s.since = now;
        let w = Waiting {
            slot,
            generation: s.generation,
            ticket: s.queue_ticket,
            since: now,
        };
        let pool = s.pool;
        if let Some(p) = self.pools.pools.get_mut(pool as usize) {
            p.push(w, deadline);
            crate::sim::stats::inc(&mut self.stats.queued_by_level, p.level as usize);
        }
        self.try_start(pool);
        // After the free handlers took what they could: an event taken at
        // once never stood in a queue.
        if let Some(p) = self.pools.pools.get_mut(pool as usize) {
            p.max_waiting = p.max_waiting.max(p.waiting);
        }
    }

    /// Free handlers take waiting events, in working hours.
    pub(super) fn try_start(&mut self, pool: u32) {
        let now = self.now;
        loop {
            let Some(p) = self.pools.pools.get_mut(pool as usize) else {
                return;
            };
            if p.busy >= p.handlers || p.waiting == 0 {
                return;
            }
            let cal = self
                .staff
                .kinds
                .get(p.kind as usize)
                .and_then(|k| k.calendar.as_ref());
            let mut spare = shift::Shift::default();
            let shift = self.shifts.get_mut(p.kind as usize).unwrap_or(&mut spare);
            if let Some(cal) = cal {
                let open = shift.opens(cal, now);
                if open > now {
                    if open < p.wake_at && open < self.end {
                        p.wake_at = open;
                        self.push_gen(open, pool, 0, Kind::Wake, 0);
                    }
                    return;
                }
            }
            let Some(w) = p.pop() else { return };
            let Some(s) = self.slots.get_mut(w.slot as usize) else {
                continue;
            };
            if s.generation != w.generation
                || s.queue_ticket != w.ticket
                || s.phase != Phase::Queued
            {
                continue;
            }
            p.waiting -= 1;
            p.busy += 1;
            crate::sim::stats::dec(&mut self.stats.queued_by_level, p.level as usize);
            p.served += 1;
            p.waited(now - w.since);
            s.since = now;
            let kind = self.staff.kinds.get(p.kind as usize);
            let dist = s
                .category
                .and_then(|c| self.plan.categories.get(c as usize))
                .and_then(|c| c.handling.as_ref())
                .or(kind.map(|k| &k.plan.handling));
            let work = dist.map_or(0, |d| d.seconds(&mut s.rng));
            s.work = work as f64;
            s.phase = Phase::Working;
            let cal = kind.and_then(|k| k.calendar.as_ref());
            let at = shift.advance(cal, now, work);
            self.push(at, w.slot, Kind::Finish, 0);
        }
    }

    /// Working seconds of `pool`'s hours in `[from, to)`.
    pub(super) fn work_between(&self, pool: u32, from: i64, to: i64) -> f64 {
        if to <= from {
            return 0.0;
        }
        let calendar = self
            .pools
            .pools
            .get(pool as usize)
            .and_then(|p| self.staff.kinds.get(p.kind as usize))
            .and_then(|k| k.calendar.as_ref());
        match calendar {
            Some(c) => c.working_seconds_between(ts(from), ts(to)) as f64,
            None => (to - from) as f64,
        }
    }

    pub(super) fn finish(&mut self, slot: u32) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let pool = s.pool;
        // Handling begun in the warm-up counts from the period's start.
        let work = if s.since < self.start {
            self.work_between(pool, self.start, self.now)
        } else {
            s.work
        };
        if let Some(p) = self.pools.pools.get_mut(pool as usize) {
            p.busy = p.busy.saturating_sub(1);
            p.work += work;
        }
        if self.act(slot, Action::Resolve { note: None }) {
            self.settle(slot);
        }
        self.try_start(pool);
    }

    /// After a resolution: draws the feedback and the reopen (always all
    /// of them, in one order, so both policies' streams stay aligned) and
    /// plans them.
    pub(super) fn settle(&mut self, slot: u32) {
        let now = self.now;
        let plan = self.plan;
        let policy = self.policy;
        let week = self.week(now);
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(case) = &s.case else { return };
        let on_time = now <= case.resolve_by.as_second();
        let level = policy.level_id(&case.level).unwrap_or(0);
        let rated = unit(&mut s.rng) < plan.feedback_share;
        let fb_at = now + plan.feedback_delay.seconds(&mut s.rng);
        let u = unit(&mut s.rng);
        let cum = if on_time {
            &plan.ratings_on_time
        } else {
            &plan.ratings_late
        };
        let rating = 1 + cum.iter().take(4).filter(|&&c| c <= u).count() as u32;
        let chance = s
            .category
            .and_then(|c| plan.categories.get(c as usize))
            .and_then(|c| c.reopen)
            .unwrap_or(if on_time {
                plan.reopen_on_time
            } else {
                plan.reopen_late
            });
        let reopen = unit(&mut s.rng) < chance;
        let reopen_at = if rated { fb_at } else { now } + plan.reopen_delay.seconds(&mut s.rng);
        s.phase = Phase::Settled;
        s.reopen_pending = reopen;
        let counted = s.counted.take();
        self.stats.open_move(counted, None);
        Collect::bump(&mut self.stats.week_resolved, week);
        if !on_time {
            Collect::bump(&mut self.stats.week_late, week);
        }
        if let Some(r) = self.stats.levels.get_mut(level as usize) {
            r.resolved += 1;
        }
        if rated {
            self.push(fb_at, slot, Kind::Feedback, rating);
        }
        if reopen {
            self.push(reopen_at, slot, Kind::Reopen, 0);
        } else if !rated {
            self.finalize(slot);
        }
    }

    pub(super) fn reopen(&mut self, slot: u32) {
        // Deciding it again reads its attributes.
        if let Some(s) = self.slots.get_mut(slot as usize)
            && let Some(case) = &mut s.case
        {
            s.attr
                .give_back(&mut case.event.attr, self.plan.arrivals.as_ref());
        }
        if !self.act(slot, Action::Reopen { reason: None }) {
            self.finalize(slot);
            return;
        }
        self.stats.totals.reopens += 1;
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(case) = &mut s.case else { return };
        s.attr.drop_again(&mut case.event.attr);
        let level = self.policy.level_id(&case.level).unwrap_or(0);
        let counted = Some((level, s.lead));
        s.counted = counted;
        s.reopen_pending = false;
        self.stats.open_move(None, counted);
        self.dispatch(slot);
    }

    /// The event's life in the period is over: its facts go to the
    /// assessment and the counters, and its slot is freed.
    pub(super) fn finalize(&mut self, slot: u32) {
        let now = ts(self.now);
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        // Read in place and dropped there: moving the case out of its slot
        // would copy its 600 bytes once more.
        let Some(case) = &s.case else { return };
        s.generation = s.generation.wrapping_add(1);
        if s.of_period {
            let facts = case.facts(now);
            let grade = self.policy.grade_of(&case.grade);
            self.stats.finish(case, &facts, grade, false);
            let row = match s.known_row() {
                Some(r) => r,
                None => tally_row(&mut self.tally, &mut self.grids, self.policy, s.grid, case),
            };
            let numbers = tally_numbers(self.policy, s, case);
            self.tally.add_in_row(case, &facts, row, numbers);
        }
        if let Some(case) = &mut s.case {
            // Emptied now, while its steps are in cache: emptied when the
            // next case opens, dropping their names would read them cold.
            let mut steps = std::mem::take(&mut case.steps);
            steps.clear();
            s.spare_steps = steps;
        }
        s.case = None;
        self.free.push(slot);
    }

    /// The period ended: every event of it still alive is counted as it
    /// stands, and the handlers' work and the queues' waits so far too.
    pub(super) fn close_period(&mut self) {
        let end = ts(self.end);
        for i in 0..self.slots.len() {
            let Some(s) = self.slots.get(i) else { continue };
            let (pool, since, phase) = (s.pool, s.since, s.phase);
            let work = match phase {
                Phase::Working if s.case.is_some() => {
                    self.work_between(pool, since.max(self.start), self.end)
                }
                _ => 0.0,
            };
            if let Some(p) = self.pools.pools.get_mut(pool as usize) {
                p.work += work;
                if phase == Phase::Queued && s.case.is_some() {
                    p.waited(self.end - since);
                }
            }
            let Some(s) = self.slots.get_mut(i) else {
                continue;
            };
            let Some(case) = s.case.take() else { continue };
            if !s.of_period {
                continue;
            }
            let facts = case.facts(end);
            let grade = self.policy.grade_of(&case.grade);
            let open = case.state.is_open();
            self.stats.finish(&case, &facts, grade, open);
            let row = tally_row(&mut self.tally, &mut self.grids, self.policy, s.grid, &case);
            let numbers = tally_numbers(self.policy, s, &case);
            self.tally.add_in_row(&case, &facts, row, numbers);
        }
        while self.next_day < self.days.len() {
            self.stats.sample();
            self.next_day += 1;
        }
    }
}

/// The numbers the tally keeps a case's groups by: its category's in the
/// arrival plan, and its lead's id while the lead is still the one decided
/// (a reassignment changes the case's lead, not the slot's).
fn tally_numbers(policy: &Policy, s: &Slot, case: &Case) -> Numbers {
    let decided = policy.case_names.departments.get(usize::from(s.lead));
    Numbers {
        lead: decided
            .is_some_and(|n| n.same(&case.lead))
            .then_some(u32::from(s.lead)),
        category: s.category,
    }
}

/// The tally's row of a case's grid: by the grid's index in the arrival
/// plan where it has one, else by its name.
fn tally_row(
    tally: &mut Tally,
    grids: &mut Vec<GridIds<'_>>,
    policy: &Policy,
    grid: u32,
    case: &Case,
) -> usize {
    match GridIds::of(grids, grid) {
        Some(ids) => *ids
            .tally_row
            .get_or_insert_with(|| tally.row(policy, &case.event.grid)),
        None => tally.row(policy, &case.event.grid),
    }
}

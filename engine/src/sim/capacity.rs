//! Handler pools: one per (pool kind, unit) — the street `S01`'s urban
//! enforcement team, the grid `G010101`'s grid workers — each with its
//! handlers, its working hours and its queue of accepted events waiting
//! for a free handler.
//!
//! Queue entries are never removed from the middle: an event that leaves
//! a queue early (raised to another level) bumps its ticket, and the stale
//! entry is dropped when it reaches the front. `waiting` counts the live
//! entries only.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashMap;

use super::scenario::QueueOrder;
use crate::lifecycle::Name;
use crate::model::LevelId;

/// An event waiting in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Waiting {
    /// Its slot in the run.
    pub slot: u32,
    /// The slot's generation when it was queued.
    pub generation: u32,
    /// Its queue ticket when it was queued.
    pub ticket: u32,
    /// When it was queued.
    pub since: i64,
}

#[derive(Debug)]
enum Queue {
    Fifo(VecDeque<Waiting>),
    /// By resolve deadline, then by arrival in the queue.
    Deadline(BinaryHeap<Reverse<(i64, u64, Waiting)>>),
}

/// One pool of handlers in one unit.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Its kind (index in [`super::setup::Staffing::kinds`]).
    pub kind: u32,
    /// Its unit.
    pub unit: Option<Name>,
    /// Its level.
    pub level: LevelId,
    /// Handlers.
    pub handlers: u32,
    /// Handlers working on an event.
    pub busy: u32,
    /// Live queue entries.
    pub waiting: u32,
    queue: Queue,
    seq: u64,
    /// When a wake-up at the next working instant is scheduled.
    pub wake_at: i64,
    /// Events whose handling started.
    pub served: u64,
    /// Stays in the queue that ended in the period: a handler took the
    /// event, a raise moved it, or the period ended while it waited.
    pub waits: u64,
    /// Sum of those stays (seconds).
    pub wait_sum: f64,
    /// Longest of them.
    pub wait_max: i64,
    /// Working seconds of handling done.
    pub work: f64,
    /// Longest queue.
    pub max_waiting: u32,
}

impl Pool {
    /// Queues an event (with its resolve deadline, for deadline order).
    pub fn push(&mut self, w: Waiting, deadline: i64) {
        match &mut self.queue {
            Queue::Fifo(q) => q.push_back(w),
            Queue::Deadline(h) => {
                self.seq += 1;
                h.push(Reverse((deadline, self.seq, w)));
            }
        }
        self.waiting += 1;
    }

    /// Counts a stay in the queue of `seconds`.
    pub fn waited(&mut self, seconds: i64) {
        self.waits += 1;
        self.wait_sum += seconds as f64;
        self.wait_max = self.wait_max.max(seconds);
    }

    /// The next entry, live or stale (the caller checks).
    pub fn pop(&mut self) -> Option<Waiting> {
        match &mut self.queue {
            Queue::Fifo(q) => q.pop_front(),
            Queue::Deadline(h) => h.pop().map(|Reverse((_, _, w))| w),
        }
    }
}

/// Every pool of a run, made when first needed.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    /// The pools.
    pub pools: Vec<Pool>,
    /// Per kind: the pool without a unit, and the pool of each unit.
    index: Vec<(Option<u32>, FxHashMap<Name, u32>)>,
}

impl Pools {
    /// Starts every pool's counts again (the end of a warm-up): what it
    /// served and waited, and its longest queue from the one it holds now.
    pub fn restart_counts(&mut self) {
        for p in &mut self.pools {
            p.served = 0;
            p.waits = 0;
            p.wait_sum = 0.0;
            p.wait_max = 0;
            p.work = 0.0;
            p.max_waiting = p.waiting;
        }
    }

    /// Asks for pool `i`'s record, which the wake-up under way will read.
    pub fn prefetch(&self, i: u32) {
        if let Some(p) = self.pools.get(i as usize) {
            crate::prefetch::value(p);
        }
    }

    /// The pool of `kind` in `unit`, made on first use.
    pub fn get(
        &mut self,
        kind: u32,
        unit: Option<&Name>,
        level: LevelId,
        handlers: u32,
        order: QueueOrder,
    ) -> u32 {
        // Looked up by reference: cloning the unit's name for the key
        // would bump its count at every dispatch.
        let found = self
            .index
            .get(kind as usize)
            .and_then(|(none, units)| match unit {
                None => *none,
                Some(u) => units.get(u.as_str()).copied(),
            });
        if let Some(i) = found {
            return i;
        }
        let i = u32::try_from(self.pools.len()).unwrap_or(u32::MAX);
        self.pools.push(Pool {
            kind,
            unit: unit.cloned(),
            level,
            handlers,
            busy: 0,
            waiting: 0,
            queue: match order {
                QueueOrder::Fifo => Queue::Fifo(VecDeque::new()),
                QueueOrder::Deadline => Queue::Deadline(BinaryHeap::new()),
            },
            seq: 0,
            wake_at: i64::MAX,
            served: 0,
            waits: 0,
            wait_sum: 0.0,
            wait_max: 0,
            work: 0.0,
            max_waiting: 0,
        });
        let k = kind as usize;
        if self.index.len() <= k {
            self.index.resize_with(k + 1, Default::default);
        }
        if let Some((none, units)) = self.index.get_mut(k) {
            match unit {
                None => *none = Some(i),
                Some(u) => {
                    units.insert(u.clone(), i);
                }
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(slot: u32) -> Waiting {
        Waiting {
            slot,
            generation: 0,
            ticket: 0,
            since: 0,
        }
    }

    #[test]
    fn fifo_and_deadline_orders() {
        let mut pools = Pools::default();
        let unit = Name::from("S01");
        let a = pools.get(0, Some(&unit), 2, 3, QueueOrder::Fifo);
        assert_eq!(pools.get(0, Some(&unit), 2, 3, QueueOrder::Fifo), a);
        let b = pools.get(1, Some(&unit), 2, 3, QueueOrder::Deadline);
        assert_ne!(a, b);
        let p = &mut pools.pools[a as usize];
        p.push(w(1), 50);
        p.push(w(2), 10);
        assert_eq!(p.pop().map(|x| x.slot), Some(1));
        let q = &mut pools.pools[b as usize];
        q.push(w(1), 50);
        q.push(w(2), 10);
        q.push(w(3), 10);
        assert_eq!(q.waiting, 3);
        assert_eq!(q.pop().map(|x| x.slot), Some(2));
        assert_eq!(q.pop().map(|x| x.slot), Some(3));
        assert_eq!(q.pop().map(|x| x.slot), Some(1));
        assert_eq!(q.pop(), None);
    }
}

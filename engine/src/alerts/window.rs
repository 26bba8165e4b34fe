//! The events inside the monitor's windows: one slot per event (what it
//! contributes, to which groups), found by event id, and a queue of the
//! instants at which an event leaves a window or a deadline of it passes.
//!
//! Each slot has at most one queued exit per window length, all queued
//! when it is taken in (where leaving moves a value, and at its last
//! window's end, when it is freed) and, only when some threshold reads
//! deadlines, at most one queued deadline per clock that is still
//! pending. Memory is therefore bounded by the events in the longest
//! window.
//!
//! Exits go to one first-in-first-out lane per window length: events are
//! mostly seen in report order, so `reported_at + W` mostly grows, and a
//! lane ([`super::lane::Lane`]) is a queue with O(1) ends that grows a
//! chunk at a time. An exit earlier than its lane's last (an event
//! reported late), and every deadline, goes to a bucket queue
//! (`crate::buckets`) instead. The next instant is the least of the lanes'
//! fronts and the queue's.

use smallvec::SmallVec;

use super::group::Bits;
use super::ids::{EventId, IdIndex, hash};
use super::lane::Lane;
use super::packed::Packed;
use crate::buckets::{BucketQueue, Timed};
use crate::radix::{RadixKey, signed};

/// One event in a window. Its id is not here: only a table that looks
/// events up by id keeps it (beside the slots), and at a city's volume
/// the window holds a million slots, each read cold. Nor is what tells a
/// place's queued instants and hints still good ([`Mark`]): that is read
/// far more often than the slot. Nor are its deadlines: the caller's
/// hint holds them, or, in a table that finds events by id, a side table.
/// What is left fills one cache line, and each slot sits in one.
#[derive(Debug, Clone)]
#[repr(align(64))]
pub(super) struct Slot {
    /// `reported_at`, nanoseconds.
    pub reported: i64,
    /// Its facts as last seen (deadlines that passed since are applied).
    pub facts: Packed,
    /// Interned group id per kind of group.
    pub keys: SmallVec<[u32; 4]>,
    /// Per threshold: its `count(COND)` holds; the event counts in its
    /// window now.
    pub bits: Bits,
}

/// What a queued instant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum What {
    /// The event leaves (one of) its windows.
    Exit,
    /// The respond deadline has passed.
    Respond,
    /// The resolve deadline has passed.
    Resolve,
}

/// What tells whether a place's hints and queued deadlines still hold,
/// kept apart from the slots in 12 bytes a place: a deadline that was met
/// (most are) or a hint is checked here without reading the slot, whose
/// million-strong table is far out of cache.
#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    /// Bumped when the place is freed (30 bits); [`USED`]: the place holds
    /// a slot; [`FIRED`]: a deadline of the slot passed unmet since it was
    /// last observed ([`Table::fired`]).
    generation: u32,
    /// Bumped when the queued respond (resolve) deadline stops holding:
    /// met, moved, or its place freed. A queued deadline carries the
    /// stamp it was queued under.
    respond: u32,
    resolve: u32,
}

const FIRED: u32 = 1 << 31;
const USED: u32 = 1 << 30;

/// A queued instant, in 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Due {
    /// Nanoseconds.
    pub at: i64,
    pub slot: u32,
    /// What it is (2 bits) and, for a deadline, the slot's stamp for that
    /// deadline when queued (30 bits, see [`Mark`]): a deadline met,
    /// moved, or of a freed place is ignored.
    tag: u32,
}

/// Generations and stamps compare on 30 bits (a deadline would have to
/// be met or moved 2^30 times while one queued before waits for a wrap to
/// matter).
const GENERATION: u32 = (1 << 30) - 1;

impl RadixKey for Due {
    fn key(&self) -> u128 {
        signed(self.at) << 64 | u128::from(self.slot) << 32 | u128::from(self.tag)
    }
}

impl Timed for Due {
    fn second(&self) -> i64 {
        self.at.div_euclid(1_000_000_000)
    }
}

impl Due {
    pub fn new(at: i64, what: What, slot: u32, stamp: u32) -> Due {
        let w = match what {
            What::Exit => 0,
            What::Respond => 1,
            What::Resolve => 2,
        };
        Due {
            at,
            slot,
            tag: (stamp & GENERATION) << 2 | w,
        }
    }

    pub fn what(&self) -> What {
        match self.tag & 3 {
            0 => What::Exit,
            1 => What::Respond,
            _ => What::Resolve,
        }
    }

    fn stamp(&self) -> u32 {
        self.tag >> 2
    }
}

/// Slots per chunk of the slab: chunks never grow, so no slot is copied
/// and no capacity doubles.
const CHUNK: usize = 4096;

/// The slots, their ids, and the queue.
#[derive(Debug, Clone, Default)]
pub(super) struct Table {
    /// The slots, each in use while its mark says so.
    entries: Vec<Vec<Slot>>,
    /// Per place, in chunks as `entries`.
    marks: Vec<Vec<Mark>>,
    /// Entries in use or freed (the next new index).
    made: usize,
    free: Vec<u32>,
    /// `None` in a table without ids (see [`Table::without_ids`]).
    by_id: Option<IdIndex>,
    /// With `by_id`: each slot's event id and deadlines, in chunks as
    /// `entries`.
    ids: Vec<Vec<ById>>,
    /// Window exits in order, one lane per window length.
    lanes: Vec<Lane<Due>>,
    /// Deadlines, and exits that came out of order.
    heap: BucketQueue<Due>,
    /// The least of the lanes' fronts and the heap's top, and where it
    /// sits: the simulator asks for it at every step of its clock.
    next: Option<(Due, Front)>,
}

/// What a table that finds events by id keeps of each beside its slot.
#[derive(Debug, Clone)]
struct ById {
    id: EventId,
    /// The current round's deadlines as last observed, nanoseconds.
    deadlines: (i64, i64),
}

/// Where the next instant sits.
#[derive(Debug, Clone, Copy)]
enum Front {
    Lane(usize),
    Heap,
}

impl Table {
    /// The slot of an event id (never found in a table without ids).
    pub fn find(&self, id: &str) -> Option<u32> {
        self.by_id.as_ref()?.find(hash(id), |i| {
            self.get(i).is_some() && self.id(i).is_some_and(|held| held.is(id))
        })
    }

    /// The event id kept for slot `i` (in a table with ids).
    fn id(&self, i: u32) -> Option<&EventId> {
        let i = i as usize;
        self.ids
            .get(i / CHUNK)
            .and_then(|c| c.get(i % CHUNK))
            .map(|b| &b.id)
    }

    /// Whether the table finds events by id (and keeps their deadlines).
    pub fn has_ids(&self) -> bool {
        self.by_id.is_some()
    }

    /// Slot `i`'s deadlines as last observed (in a table with ids).
    pub fn deadlines(&self, i: u32) -> Option<(i64, i64)> {
        let i = i as usize;
        self.ids
            .get(i / CHUNK)
            .and_then(|c| c.get(i % CHUNK))
            .map(|b| b.deadlines)
    }

    /// Keeps slot `i`'s deadlines (in a table with ids; else nothing).
    pub fn set_deadlines(&mut self, i: u32, deadlines: (i64, i64)) {
        let i = i as usize;
        if let Some(b) = self
            .ids
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
        {
            b.deadlines = deadlines;
        }
    }

    fn entry(&self, i: u32) -> Option<&Slot> {
        let i = i as usize;
        self.entries.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    fn entry_mut(&mut self, i: u32) -> Option<&mut Slot> {
        let i = i as usize;
        self.entries
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
    }

    fn used(&self, i: u32) -> bool {
        self.mark(i).is_some_and(|m| m.generation & USED != 0)
    }

    fn mark(&self, i: u32) -> Option<Mark> {
        let i = i as usize;
        self.marks
            .get(i / CHUNK)
            .and_then(|c| c.get(i % CHUNK))
            .copied()
    }

    fn mark_mut(&mut self, i: u32) -> Option<&mut Mark> {
        let i = i as usize;
        self.marks
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
    }

    /// Asks the processor for what taking `d` in will read: its place's
    /// mark, and for an exit the slot too.
    pub fn prefetch(&self, d: &Due) {
        if d.what() == What::Exit {
            self.prefetch_place(d.slot);
        } else {
            self.prefetch_mark(d.slot);
        }
    }

    /// Asks the processor for place `i`'s mark and slot.
    pub fn prefetch_place(&self, i: u32) {
        self.prefetch_mark(i);
        if let Some(e) = self.entry(i) {
            crate::prefetch::value(e);
        }
    }

    /// Asks the processor for place `i`'s mark (what a hint is checked
    /// against).
    pub fn prefetch_mark(&self, i: u32) {
        let i = i as usize;
        if let Some(m) = self.marks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK)) {
            crate::prefetch::value(m);
        }
    }

    pub fn get(&self, i: u32) -> Option<&Slot> {
        if self.used(i) { self.entry(i) } else { None }
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut Slot> {
        if self.used(i) {
            self.entry_mut(i)
        } else {
            None
        }
    }

    /// Whether slot `i` is in use and still in generation `g` (a freed
    /// place is a generation on, used again or not).
    pub fn holds(&self, i: u32, g: u32) -> bool {
        self.mark(i)
            .is_some_and(|m| m.generation & USED != 0 && m.generation & GENERATION == g)
    }

    pub fn generation(&self, i: u32) -> u32 {
        self.mark(i).map_or(0, |m| m.generation & GENERATION)
    }

    /// Whether a deadline of slot `i` passed unmet since [`Table::observed`].
    pub fn fired(&self, i: u32) -> bool {
        self.mark(i).is_some_and(|m| m.generation & FIRED != 0)
    }

    /// Slot `i` was observed: its facts are the case's again.
    pub fn observed(&mut self, i: u32) {
        if let Some(m) = self.mark_mut(i) {
            m.generation &= !FIRED;
        }
    }

    /// The queued deadline `what` of slot `i` no longer holds.
    pub fn drop_deadline(&mut self, i: u32, what: What) {
        if let Some(m) = self.mark_mut(i) {
            match what {
                What::Respond => m.respond = m.respond.wrapping_add(1),
                What::Resolve => m.resolve = m.resolve.wrapping_add(1),
                What::Exit => {}
            }
        }
    }

    /// Stores a new slot for event `id`, with its deadlines, and returns
    /// its index.
    pub fn insert(&mut self, slot: Slot, id: &str, deadlines: (i64, i64)) -> u32 {
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(e) = self.entry_mut(i) {
                    *e = slot;
                }
                // The next event taken in reuses the place freed before
                // this one's, long enough ago to have left the cache.
                if let Some(&n) = self.free.last() {
                    self.prefetch_place(n);
                }
                i
            }
            None => {
                let i = u32::try_from(self.made).unwrap_or(u32::MAX);
                if self.entries.last().is_none_or(|c| c.len() == CHUNK) {
                    self.entries.push(Vec::with_capacity(CHUNK));
                    self.marks.push(Vec::with_capacity(CHUNK));
                }
                if let Some(c) = self.entries.last_mut() {
                    c.push(slot);
                }
                if let Some(c) = self.marks.last_mut() {
                    c.push(Mark::default());
                }
                self.made += 1;
                i
            }
        };
        if let Some(m) = self.mark_mut(i) {
            m.generation |= USED;
        }
        if let Some(by_id) = &mut self.by_id {
            by_id.insert(hash(id), i);
            let at = i as usize;
            if self.ids.len() <= at / CHUNK {
                self.ids.push(Vec::with_capacity(CHUNK));
            }
            if let Some(c) = self.ids.get_mut(at / CHUNK) {
                let kept = ById {
                    id: EventId::new(id),
                    deadlines,
                };
                // Slots are made in order, so a new one is the chunk's next.
                match c.get_mut(at % CHUNK) {
                    Some(held) => *held = kept,
                    None => c.push(kept),
                }
            }
        }
        i
    }

    /// Frees a slot; its queued instants become stale.
    pub fn remove(&mut self, i: u32) {
        if self.used(i) {
            if let Some(e) = self.entry_mut(i) {
                // What the slot held on the heap goes now, not when the
                // place is used again.
                e.keys = SmallVec::new();
                e.bits = Bits::default();
            }
            if let Some(m) = self.mark_mut(i) {
                *m = Mark {
                    generation: (m.generation & GENERATION).wrapping_add(1) & GENERATION,
                    respond: m.respond.wrapping_add(1),
                    resolve: m.resolve.wrapping_add(1),
                };
            }
            let h = self
                .id(i)
                .and_then(|id| std::str::from_utf8(id.as_bytes()).ok())
                .map(hash);
            if let (Some(by_id), Some(h)) = (&mut self.by_id, h) {
                by_id.remove(h, i);
            }
            self.free.push(i);
        }
    }

    /// A table whose exits use `lanes` lanes (one per window length).
    pub fn new(lanes: usize) -> Table {
        Table {
            lanes: vec![Lane::default(); lanes],
            by_id: Some(IdIndex::default()),
            ..Table::default()
        }
    }

    /// A table that keeps no index of ids, for a monitor whose caller
    /// always knows where its events are (see [`super::Monitor::with_hints`]):
    /// at a city's volume the index is megabytes, and taking an event in
    /// and out of it two cache misses.
    pub fn without_ids(mut self) -> Table {
        self.by_id = None;
        self
    }

    /// Queues an exit in lane `lane`, or a deadline (`lane` ignored).
    pub fn push(&mut self, at: i64, what: What, slot: u32, lane: usize) {
        let m = self.mark(slot).unwrap_or_default();
        let stamp = match what {
            What::Exit => 0,
            What::Respond => m.respond,
            What::Resolve => m.resolve,
        };
        let due = Due::new(at, what, slot, stamp);
        let place = if what == What::Exit
            && let Some(q) = self.lanes.get_mut(lane)
            && q.back().is_none_or(|b| b.at <= at)
        {
            q.push_back(due);
            Front::Lane(lane)
        } else {
            self.heap.push(due);
            Front::Heap
        };
        // Anything appended behind a lane's front is not below that front,
        // so only a new least item can change `next`.
        if self.next.is_none_or(|(n, _)| due < n) {
            self.next = Some((due, place));
        }
    }

    fn front(&self) -> Option<(Due, Front)> {
        let mut best = self.heap.peek().map(|d| (d, Front::Heap));
        for (i, q) in self.lanes.iter().enumerate() {
            if let Some(d) = q.front()
                && best.is_none_or(|(b, _)| *d < b)
            {
                best = Some((*d, Front::Lane(i)));
            }
        }
        best
    }

    pub fn peek(&self) -> Option<Due> {
        self.next.map(|(d, _)| d)
    }

    pub fn pop(&mut self) -> Option<Due> {
        let (_, at) = self.next?;
        let d = match at {
            Front::Heap => self.heap.pop(),
            Front::Lane(i) => self.lanes.get_mut(i).and_then(Lane::pop_front),
        };
        self.next = self.front();
        d
    }

    /// Whether a queued instant would still change something.
    pub fn is_live(&self, d: &Due) -> bool {
        // A slot's exits are all queued when it is taken in, and it is
        // freed at the last of them: an exit is never stale.
        if d.what() == What::Exit {
            return true;
        }
        let Some(m) = self.mark(d.slot) else {
            return false;
        };
        match d.what() {
            What::Exit => true,
            What::Respond => m.respond & GENERATION == d.stamp(),
            What::Resolve => m.resolve & GENERATION == d.stamp(),
        }
    }

    /// A live deadline of slot `i` passed: its facts are no longer the
    /// case's as last observed.
    pub fn passed(&mut self, i: u32) {
        if let Some(m) = self.mark_mut(i) {
            m.generation |= FIRED;
        }
    }

    /// Drops stale instants from the front of the queue, so that the
    /// front is the next instant that changes something.
    pub fn drop_stale(&mut self) {
        while let Some(d) = self.peek() {
            if self.is_live(&d) {
                return;
            }
            self.pop();
        }
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.made - self.free.len()
    }

    /// Queued instants (stale ones included).
    pub fn queued(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(Lane::len).sum::<usize>()
    }
}

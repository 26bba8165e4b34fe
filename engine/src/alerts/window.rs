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
/// the window holds a million slots, each read cold.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    /// `reported_at`, nanoseconds.
    pub reported: i64,
    /// The current round's deadlines, nanoseconds.
    pub respond_by: i64,
    pub resolve_by: i64,
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

/// A queued instant, in 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Due {
    /// Nanoseconds.
    pub at: i64,
    pub slot: u32,
    /// What it is (2 bits) and the slot's generation when queued (30 bits):
    /// a reused slot ignores it.
    tag: u32,
}

/// Generations compare on 30 bits (a slot would have to be reused 2^30
/// times while one of its deadlines waits for a wrap to matter).
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
    pub fn new(at: i64, what: What, slot: u32, generation: u32) -> Due {
        let w = match what {
            What::Exit => 0,
            What::Respond => 1,
            What::Resolve => 2,
        };
        Due {
            at,
            slot,
            tag: (generation & GENERATION) << 2 | w,
        }
    }

    pub fn what(&self) -> What {
        match self.tag & 3 {
            0 => What::Exit,
            1 => What::Respond,
            _ => What::Resolve,
        }
    }

    pub fn generation(&self) -> u32 {
        self.tag >> 2
    }
}

#[derive(Debug, Clone, Default)]
struct Entry {
    generation: u32,
    slot: Option<Slot>,
}

/// Slots per chunk of the slab: chunks never grow, so no slot is copied
/// and no capacity doubles.
const CHUNK: usize = 4096;

/// The slots, their ids, and the queue.
#[derive(Debug, Clone, Default)]
pub(super) struct Table {
    entries: Vec<Vec<Entry>>,
    /// Entries in use or freed (the next new index).
    made: usize,
    free: Vec<u32>,
    /// `None` in a table without ids (see [`Table::without_ids`]).
    by_id: Option<IdIndex>,
    /// With `by_id`: each slot's event id, in chunks as `entries`.
    ids: Vec<Vec<EventId>>,
    /// Window exits in order, one lane per window length.
    lanes: Vec<Lane<Due>>,
    /// Deadlines, and exits that came out of order.
    heap: BucketQueue<Due>,
    /// The least of the lanes' fronts and the heap's top, and where it
    /// sits: the simulator asks for it at every step of its clock.
    next: Option<(Due, Front)>,
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
        self.ids.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    fn entry(&self, i: u32) -> Option<&Entry> {
        let i = i as usize;
        self.entries.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    fn entry_mut(&mut self, i: u32) -> Option<&mut Entry> {
        let i = i as usize;
        self.entries
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
    }

    /// Asks the processor for slot `i`'s memory.
    pub fn prefetch(&self, i: u32) {
        if let Some(e) = self.entry(i) {
            crate::prefetch::value(e);
        }
    }

    pub fn get(&self, i: u32) -> Option<&Slot> {
        self.entry(i).and_then(|e| e.slot.as_ref())
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut Slot> {
        self.entry_mut(i).and_then(|e| e.slot.as_mut())
    }

    /// Whether slot `i` is in use and still in generation `g`.
    pub fn holds(&self, i: u32, g: u32) -> bool {
        self.entry(i)
            .is_some_and(|e| e.slot.is_some() && e.generation & GENERATION == g)
    }

    pub fn generation(&self, i: u32) -> u32 {
        self.entry(i).map_or(0, |e| e.generation & GENERATION)
    }

    /// Stores a new slot for event `id` and returns its index.
    pub fn insert(&mut self, slot: Slot, id: &str) -> u32 {
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(e) = self.entry_mut(i) {
                    e.slot = Some(slot);
                }
                i
            }
            None => {
                let i = u32::try_from(self.made).unwrap_or(u32::MAX);
                if self.entries.last().is_none_or(|c| c.len() == CHUNK) {
                    self.entries.push(Vec::with_capacity(CHUNK));
                }
                if let Some(c) = self.entries.last_mut() {
                    c.push(Entry {
                        generation: 0,
                        slot: Some(slot),
                    });
                }
                self.made += 1;
                i
            }
        };
        if let Some(by_id) = &mut self.by_id {
            by_id.insert(hash(id), i);
            let at = i as usize;
            if self.ids.len() <= at / CHUNK {
                self.ids.push(Vec::with_capacity(CHUNK));
            }
            if let Some(c) = self.ids.get_mut(at / CHUNK) {
                // Slots are made in order, so a new one is the chunk's next.
                match c.get_mut(at % CHUNK) {
                    Some(held) => *held = EventId::new(id),
                    None => c.push(EventId::new(id)),
                }
            }
        }
        i
    }

    /// Frees a slot; its queued instants become stale.
    pub fn remove(&mut self, i: u32) {
        if let Some(e) = self.entry_mut(i)
            && e.slot.take().is_some()
        {
            e.generation = e.generation.wrapping_add(1);
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
        let due = Due::new(at, what, slot, self.generation(slot));
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
        // freed at the last of them: an exit is never stale (and checking
        // it would read a cold slot).
        if d.what() == What::Exit {
            return true;
        }
        if self.generation(d.slot) != d.generation() {
            return false;
        }
        let Some(s) = self.get(d.slot) else {
            return false;
        };
        match d.what() {
            What::Exit => true,
            What::Respond => s.facts.respond_pending() && s.respond_by.saturating_add(1) == d.at,
            What::Resolve => s.facts.resolve_pending() && s.resolve_by.saturating_add(1) == d.at,
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

//! One draw of the synthetic arrivals for several runs at once.
//!
//! The draft and the baseline see the same arrivals (common random
//! numbers), and drawing an event costs several times what copying one
//! does now that its attributes are drawn flat ([`super::arrivals::Drawn`]).
//! So the runs share one [`Generator`]: the run that is ahead draws the
//! next chunk, the others copy its events when they get there. The run
//! ahead is the faster one, so the drawing lands where there is time to
//! spare.
//!
//! Memory is bounded: a run at most [`AHEAD`] chunks ahead of the slowest
//! waits for it. A reader that is dropped (its run ended or failed) stops
//! counting, so no other reader ever waits for it.
//!
//! This holds no thread of its own: the caller runs each reader on its
//! thread ([`SharedArrivals`] is `Sync`).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::arrivals::{Arrival, Generator, Skip};

/// Arrivals drawn at once.
const CHUNK: usize = 2048;
/// Chunks the run ahead may draw beyond the slowest reader.
const AHEAD: usize = 32;

type Item = Result<Arrival, Skip>;

/// One generator's arrivals, for several readers; see the module
/// documentation.
pub struct SharedArrivals<'a> {
    state: Mutex<State<'a>>,
    /// Signalled when a chunk was let go or a reader left.
    moved: Condvar,
}

struct State<'a> {
    generator: Generator<'a>,
    /// Chunks drawn that some reader has not taken yet, oldest first, each
    /// with the number of readers still to take it.
    chunks: VecDeque<(Arc<Vec<Item>>, usize)>,
    /// The number of the chunk at the front of `chunks`.
    first: u64,
    /// Readers still reading.
    readers: usize,
    /// The generator has no more.
    ended: bool,
}

impl State<'_> {
    /// Lets go of the chunks no reader is still to take.
    fn release(&mut self) {
        while self.chunks.front().is_some_and(|(_, left)| *left == 0) {
            self.chunks.pop_front();
            self.first += 1;
        }
    }
}

impl<'a> SharedArrivals<'a> {
    /// Shares `generator`'s arrivals among `readers` readers
    /// ([`SharedArrivals::reader`], once each).
    pub fn new(generator: Generator<'a>, readers: usize) -> SharedArrivals<'a> {
        SharedArrivals {
            state: Mutex::new(State {
                generator,
                chunks: VecDeque::new(),
                first: 0,
                readers,
                ended: false,
            }),
            moved: Condvar::new(),
        }
    }

    /// A reader of all the arrivals, from the first; make as many as the
    /// number given to [`SharedArrivals::new`].
    pub fn reader(&self) -> Reader<'_, 'a> {
        Reader {
            shared: self,
            next: 0,
            chunk: Chunk::Owned(Vec::new().into_iter()),
            done: false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        // A reader that panicked left the state whole: chunks are pushed
        // and popped only once drawn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Chunk `k`, drawn if no reader has drawn it yet; `None` after the
    /// last.
    fn take(&self, k: u64) -> Option<Arc<Vec<Item>>> {
        let mut st = self.lock();
        loop {
            let held = st.chunks.len() as u64;
            if k < st.first + held {
                // A reader takes chunks in order, and a chunk goes only once
                // every reader took it: `k` is never behind `first`.
                let i = usize::try_from(k.checked_sub(st.first)?).ok()?;
                let (chunk, left) = st.chunks.get_mut(i)?;
                *left = left.saturating_sub(1);
                let chunk = Arc::clone(chunk);
                let before = st.first;
                st.release();
                if st.first != before {
                    self.moved.notify_all();
                }
                return Some(chunk);
            }
            if st.ended {
                return None;
            }
            if st.chunks.len() >= AHEAD {
                st = self.moved.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let chunk: Vec<Item> = st.generator.by_ref().take(CHUNK).collect();
            if chunk.len() < CHUNK {
                st.ended = true;
            }
            if chunk.is_empty() {
                return None;
            }
            let readers = st.readers;
            st.chunks.push_back((Arc::new(chunk), readers));
        }
    }
}

/// One run's view of [`SharedArrivals`]: every arrival, in order.
pub struct Reader<'s, 'a> {
    shared: &'s SharedArrivals<'a>,
    /// The number of the next chunk to take.
    next: u64,
    chunk: Chunk,
    done: bool,
}

/// The chunk a reader is at: its own when every other reader is done with
/// it (its arrivals are moved out), else shared (they are copied).
enum Chunk {
    Owned(std::vec::IntoIter<Item>),
    Shared(Arc<Vec<Item>>, usize),
}

impl Iterator for Reader<'_, '_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let item = match &mut self.chunk {
                Chunk::Owned(items) => items.next(),
                Chunk::Shared(items, at) => {
                    let item = items.get(*at).cloned();
                    *at += 1;
                    item
                }
            };
            if item.is_some() {
                return item;
            }
            if self.done {
                return None;
            }
            match self.shared.take(self.next) {
                Some(chunk) => {
                    self.next += 1;
                    self.chunk = match Arc::try_unwrap(chunk) {
                        Ok(items) => Chunk::Owned(items.into_iter()),
                        Err(shared) => Chunk::Shared(shared, 0),
                    };
                }
                None => self.done = true,
            }
        }
    }
}

impl Drop for Reader<'_, '_> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        // The chunks this reader had not taken no longer wait for it.
        let next = self.next;
        for (k, (_, left)) in (st.first..).zip(st.chunks.iter_mut()) {
            if k >= next {
                *left = left.saturating_sub(1);
            }
        }
        st.readers = st.readers.saturating_sub(1);
        st.release();
        drop(st);
        self.shared.moved.notify_all();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::sim::arrivals::{ArrivalPlan, CategoryArrivals, Profile};
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    fn plan() -> ArrivalPlan {
        ArrivalPlan {
            categories: vec![CategoryArrivals {
                plan: 0,
                name: "c".into(),
                per_day: 20_000.0,
                profile: Profile::new(None, None, None),
                sources: [0.5, 1.0, 1.0, 1.0, 1.0],
                repeat: 0.1,
                attrs: vec![],
            }],
            grids: vec!["G1".into(), "G2".into()],
            locations_per_grid: 10,
            hot_locations: 2,
            grid_skew: 0.0,
            expected: 0.0,
            warmup_expected: 0.0,
        }
    }

    fn ids(items: impl Iterator<Item = Item>) -> Vec<String> {
        items.map(|a| a.unwrap().event.id.to_string()).collect()
    }

    /// Two readers on two threads, one held back, each get the whole
    /// stream the generator alone gives, in order; a reader dropped early
    /// holds the other back from nothing.
    #[test]
    fn every_reader_gets_the_whole_stream() {
        let p = plan();
        let tz = TimeZone::UTC;
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-11T00:00:00Z".parse().unwrap();
        let alone = ids(Generator::new(&p, &tz, start, end, 7));
        assert!(alone.len() > CHUNK * AHEAD * 2, "{}", alone.len());
        let shared = SharedArrivals::new(Generator::new(&p, &tz, start, end, 7), 2);
        let (a, b) = std::thread::scope(|s| {
            let slow = s.spawn(|| {
                let mut r = shared.reader();
                let mut out = Vec::new();
                for (i, a) in r.by_ref().enumerate() {
                    if i % 5_000 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    out.push(a.unwrap().event.id.to_string());
                }
                out
            });
            let fast = ids(shared.reader());
            (fast, slow.join().unwrap())
        });
        assert_eq!(a, alone);
        assert_eq!(b, alone);
        assert!(shared.lock().chunks.is_empty(), "every chunk let go");

        let shared = SharedArrivals::new(Generator::new(&p, &tz, start, end, 7), 2);
        let early: Vec<String> = ids(shared.reader().take(10));
        assert_eq!(early, alone[..10]);
        assert_eq!(
            ids(shared.reader()),
            alone,
            "not held back by a reader gone"
        );
    }
}

//! A monotone priority queue (a radix heap), for the items the clocks of
//! the threshold monitor and of the simulator's event loop queue beyond
//! the spans of their bucket queue (`crate::buckets`).
//!
//! Both only ever queue items at or after the last one taken, so every
//! key pushed is at least the last key popped. A radix heap uses that:
//! items sit in buckets by the highest bit in which their key differs from
//! the last key popped; a push appends to a bucket, and a pop that finds
//! bucket 0 empty moves the first non-empty bucket's items down (each item
//! moves at most 128 times in its life; measured at a city's volume,
//! about nine times).
//! Appends and sweeps walk memory in order, which matters here: a binary
//! heap of a few hundred thousand items spends its time in cache misses.
//!
//! A key below the last popped (which neither user pushes) still goes in,
//! to a small binary heap beside, so the queue is correct for any use.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An item's place in the queue. Keys must order items as `Ord` does:
/// `a < b` exactly when `a.key() < b.key()`, or equal keys for equal items.
pub(crate) trait RadixKey: Copy + Ord {
    /// The key; items come out in increasing key order.
    fn key(&self) -> u128;
}

/// An order-preserving map of a signed instant to an unsigned key.
pub(crate) fn signed(at: i64) -> u128 {
    u128::from((at as u64) ^ (1 << 63))
}

const BUCKETS: usize = 129;

/// The queue; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct RadixQueue<T> {
    /// The last key popped.
    last: u128,
    buckets: Vec<Vec<T>>,
    /// The least item of each bucket but the first.
    mins: Vec<Option<T>>,
    /// Bit `i` set: bucket `i` is not empty.
    full: [u64; 3],
    /// Keys below `last`.
    low: BinaryHeap<Reverse<T>>,
    len: usize,
}

impl<T: RadixKey> Default for RadixQueue<T> {
    fn default() -> Self {
        RadixQueue {
            last: 0,
            buckets: vec![Vec::new(); BUCKETS],
            mins: vec![None; BUCKETS],
            full: [0; 3],
            low: BinaryHeap::new(),
            len: 0,
        }
    }
}

impl<T: RadixKey> RadixQueue<T> {
    fn bucket(&self, k: u128) -> usize {
        let x = k ^ self.last;
        if x == 0 {
            0
        } else {
            128 - x.leading_zeros() as usize
        }
    }

    fn mark(&mut self, b: usize, on: bool) {
        if let Some(w) = self.full.get_mut(b / 64) {
            if on {
                *w |= 1 << (b % 64);
            } else {
                *w &= !(1 << (b % 64));
            }
        }
    }

    /// The first non-empty bucket.
    fn first_full(&self) -> Option<usize> {
        self.full
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }

    fn put(&mut self, d: T) {
        let b = self.bucket(d.key());
        if let Some(v) = self.buckets.get_mut(b) {
            v.push(d);
            self.mark(b, true);
        }
        // Bucket 0 holds one key: its next item is simply its last.
        if b > 0
            && let Some(m) = self.mins.get_mut(b)
            && m.is_none_or(|m| d < m)
        {
            *m = Some(d);
        }
    }

    pub fn push(&mut self, d: T) {
        self.len += 1;
        if d.key() < self.last {
            self.low.push(Reverse(d));
        } else {
            self.put(d);
        }
    }

    /// The next item of the buckets: what [`RadixQueue::pop`] takes from them.
    fn first(&self) -> Option<T> {
        match self.first_full()? {
            0 => self.buckets.first().and_then(|v| v.last()).copied(),
            b => self.mins.get(b).copied().flatten(),
        }
    }

    /// The next item; [`RadixQueue::pop`] takes exactly this one.
    pub fn peek(&self) -> Option<T> {
        let low = self.low.peek().map(|Reverse(d)| *d);
        match (low, self.first()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        let first = self.first();
        if let Some(Reverse(l)) = self.low.peek()
            && first.is_none_or(|f| *l <= f)
        {
            self.len -= 1;
            return self.low.pop().map(|Reverse(d)| d);
        }
        first?;
        let b = self.first_full()?;
        if b != 0 {
            // Move the first non-empty bucket down around its least item,
            // which goes last into bucket 0, so that it is the one taken.
            let items = std::mem::take(self.buckets.get_mut(b)?);
            let least = self.mins.get_mut(b)?.take()?;
            self.mark(b, false);
            self.last = least.key();
            let mut skipped = false;
            for d in items {
                if !skipped && d == least {
                    skipped = true;
                } else {
                    self.put(d);
                }
            }
            // The emptied bucket gives its memory back: buckets keeping
            // their largest fill added 60-80 MB to the peak of a simulated
            // year at 10M events, whose target is 1 GB.
            self.put(least);
        }
        let zero = self.buckets.first_mut()?;
        let d = zero.pop()?;
        if zero.is_empty() {
            self.mark(0, false);
        }
        self.len -= 1;
        Some(d)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An instant and a tie-breaker, like both users' items (the bucket
    /// queue's tests use it too).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub(crate) struct Due {
        pub at: i64,
        pub slot: u32,
    }

    impl RadixKey for Due {
        fn key(&self) -> u128 {
            signed(self.at) << 64 | u128::from(self.slot)
        }
    }

    fn due(at: i64, slot: u32) -> Due {
        Due { at, slot }
    }

    /// A small deterministic generator for the queues' tests.
    pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Pushes only at or after the last instant popped, as both users do,
    /// with keys spread over many magnitudes and ties broken by the second
    /// part of the key; pops come out in `Ord` order.
    #[test]
    fn pops_in_order() {
        let mut q = RadixQueue::default();
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut now = -5_000_000_000_i64;
        let mut out = Vec::new();
        let mut pushed = 0;
        for round in 0..2000u32 {
            for _ in 0..(next() % 4) {
                // Many equal instants, and spreads up to 2^48 ns.
                let ahead = (next() % (1 << (next() % 48))) as i64 / 1000 * 1000;
                q.push(due(now + ahead, round));
                pushed += 1;
            }
            now += (next() % 1_000_000) as i64;
            while let Some(p) = q.peek().filter(|d| d.at <= now) {
                let d = q.pop().unwrap_or_else(|| due(i64::MIN, 0));
                assert_eq!(d, p, "pop takes what peek showed");
                assert!(d.at <= now);
                out.push(d);
            }
        }
        while let Some(d) = q.pop() {
            out.push(d);
        }
        assert_eq!(out.len(), pushed);
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_key_below_the_last_pop_still_comes_out_first() {
        let mut q = RadixQueue::default();
        q.push(due(100, 1));
        q.push(due(200, 2));
        assert_eq!(q.pop().map(|d| d.at), Some(100));
        q.push(due(50, 3));
        assert_eq!(q.peek().map(|d| d.at), Some(50));
        assert_eq!(q.pop().map(|d| d.at), Some(50));
        assert_eq!(q.pop().map(|d| d.at), Some(200));
        assert_eq!(q.pop(), None);
    }
}

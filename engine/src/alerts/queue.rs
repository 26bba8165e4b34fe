//! A monotone priority queue (a radix heap) of queued instants.
//!
//! The monitor only ever queues instants later than its clock, and only
//! takes instants at or before it, so every key pushed is at least the
//! last key popped. A radix heap uses that: items sit in 65 buckets by the
//! highest bit in which their key differs from the last key popped; a push
//! appends to a bucket, and a pop that finds bucket 0 empty moves the
//! first non-empty bucket's items down (each item moves at most 64 times
//! in its life, in practice once or twice). Appends and sweeps walk memory
//! in order, which matters here: a binary heap of a few hundred thousand
//! deadlines spends its time in cache misses.
//!
//! A key below the last popped (which the monitor never pushes) still goes
//! in, to a small binary heap beside, so the queue is correct for any use.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::window::Due;

const BUCKETS: usize = 65;

/// An order-preserving map of an instant to an unsigned key.
fn key(d: &Due) -> u64 {
    (d.at as u64) ^ (1 << 63)
}

#[derive(Debug, Clone)]
pub(super) struct RadixQueue {
    /// The last key popped.
    last: u64,
    buckets: Vec<Vec<Due>>,
    /// The least item of each bucket but the first.
    mins: Vec<Option<Due>>,
    /// Bit `i` set: bucket `i` is not empty.
    full: u128,
    /// Keys below `last`.
    low: BinaryHeap<Reverse<Due>>,
    len: usize,
}

impl Default for RadixQueue {
    fn default() -> Self {
        RadixQueue {
            last: 0,
            buckets: vec![Vec::new(); BUCKETS],
            mins: vec![None; BUCKETS],
            full: 0,
            low: BinaryHeap::new(),
            len: 0,
        }
    }
}

impl RadixQueue {
    fn bucket(&self, k: u64) -> usize {
        let x = k ^ self.last;
        if x == 0 {
            0
        } else {
            64 - x.leading_zeros() as usize
        }
    }

    fn put(&mut self, d: Due) {
        let b = self.bucket(key(&d));
        if let Some(v) = self.buckets.get_mut(b) {
            v.push(d);
            self.full |= 1 << b;
        }
        // Bucket 0 holds one key: its next item is simply its last.
        if b > 0
            && let Some(m) = self.mins.get_mut(b)
            && m.is_none_or(|m| d < m)
        {
            *m = Some(d);
        }
    }

    pub fn push(&mut self, d: Due) {
        self.len += 1;
        if key(&d) < self.last {
            self.low.push(Reverse(d));
        } else {
            self.put(d);
        }
    }

    /// The next item of the buckets: what [`RadixQueue::pop`] takes from them.
    fn first(&self) -> Option<Due> {
        if self.full == 0 {
            return None;
        }
        let b = self.full.trailing_zeros() as usize;
        if b == 0 {
            self.buckets.first().and_then(|v| v.last()).copied()
        } else {
            self.mins.get(b).copied().flatten()
        }
    }

    /// The next item; [`RadixQueue::pop`] takes exactly this one.
    pub fn peek(&self) -> Option<Due> {
        let low = self.low.peek().map(|Reverse(d)| *d);
        match (low, self.first()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn pop(&mut self) -> Option<Due> {
        let first = self.first();
        if let Some(Reverse(l)) = self.low.peek()
            && first.is_none_or(|f| *l <= f)
        {
            self.len -= 1;
            return self.low.pop().map(|Reverse(d)| d);
        }
        first?;
        if self.full & 1 == 0 {
            // Move the first non-empty bucket down around its least item,
            // which goes last into bucket 0, so that it is the one taken.
            let b = self.full.trailing_zeros() as usize;
            let items = std::mem::take(self.buckets.get_mut(b)?);
            let least = self.mins.get_mut(b)?.take()?;
            self.full &= !(1 << b);
            self.last = key(&least);
            let mut skipped = false;
            for d in items {
                if !skipped && d == least {
                    skipped = true;
                } else {
                    self.put(d);
                }
            }
            self.put(least);
        }
        let zero = self.buckets.first_mut()?;
        let d = zero.pop()?;
        if zero.is_empty() {
            self.full &= !1;
        }
        self.len -= 1;
        Some(d)
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::super::window::What;
    use super::*;

    fn due(at: i64, slot: u32) -> Due {
        Due::new(at, What::Respond, slot, 0)
    }

    /// Pushes only at or after the last pop, as the monitor does, with
    /// keys spread over many magnitudes; pops come out sorted.
    #[test]
    fn pops_in_order() {
        let mut q = RadixQueue::default();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
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
                out.push(d.at);
            }
        }
        while let Some(d) = q.pop() {
            out.push(d.at);
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

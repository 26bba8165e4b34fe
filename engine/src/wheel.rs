//! A timing wheel in front of the radix heap, for the clocks of the
//! simulator's event loop and of the threshold monitor.
//!
//! Both queue most items a few seconds to a day or so ahead of their
//! clock. A radix heap moves each item down its buckets several times
//! before it comes out (about nine times at a city's volume, each move a
//! copy and a comparison); the wheel puts an item due within
//! [`HORIZON`] seconds straight into the bucket of its second, and takes it
//! from there, moved never. Items due later wait in a [`RadixQueue`] and
//! enter the wheel when their second comes within the horizon.
//!
//! Items come out in `Ord` order, exactly as from a [`RadixQueue`]: each
//! bucket is kept sorted (an item is inserted at its place, which for a
//! clock that queues in order is the end), and the least of the wheel and
//! the heap goes first.

use crate::radix::{RadixKey, RadixQueue};

/// An item with an instant.
pub(crate) trait Timed: RadixKey {
    /// The whole second it is due in (floor): its bucket.
    fn second(&self) -> i64;
}

/// log2 of the seconds the wheel covers.
const BITS: u32 = 19;
/// Seconds the wheel covers ahead of its current second (about six days:
/// most resolve deadlines and feedback fall within it; at 36 hours, one
/// item in twelve took the far queue's slower path). Its bucket table
/// takes 4 MB.
const HORIZON: i64 = 1 << BITS;
const MASK: i64 = HORIZON - 1;
const WORDS: usize = (HORIZON / 64) as usize;

/// No node.
const NIL: u32 = u32::MAX;

/// An item in its bucket's list.
#[derive(Debug, Clone)]
struct Node<T> {
    item: T,
    next: u32,
}

/// The queue; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct Wheel<T> {
    /// The current second: the wheel holds items due in
    /// `[base, base + HORIZON)`, in the bucket `second & MASK`.
    base: i64,
    /// Per bucket, its first and last node, side by side (one cache line
    /// for both ends). A bucket is a sorted list threaded through
    /// `nodes`: buckets own no memory, and the wheel allocates nothing
    /// once `nodes` has grown to the largest the queue has been.
    ends: Vec<[u32; 2]>,
    nodes: Vec<Node<T>>,
    /// The first unused node (a list through `next`).
    free: u32,
    /// Bit per bucket that is not empty.
    full: Vec<u64>,
    /// Bit per word of `full` that is not zero.
    summary: Vec<u64>,
    /// Items due at or after `base + HORIZON` (or, for a caller that is
    /// not monotone, before `base`).
    far: RadixQueue<T>,
    /// `far`'s least item: asked for at every pop, and a radix heap's
    /// peek looks at two places.
    far_first: Option<T>,
    len: usize,
    /// The next item and whether it waits in `far`: the simulator peeks
    /// at every step of its clock.
    next: Option<(T, bool)>,
}

impl<T: Timed> Default for Wheel<T> {
    fn default() -> Self {
        Wheel {
            base: i64::MIN,
            ends: Vec::new(),
            nodes: Vec::new(),
            free: NIL,
            full: vec![0; WORDS],
            summary: vec![0; WORDS.div_ceil(64)],
            far: RadixQueue::default(),
            far_first: None,
            len: 0,
            next: None,
        }
    }
}

fn index(second: i64) -> usize {
    (second & MASK) as usize
}

impl<T: Timed> Wheel<T> {
    fn in_ring(&self, s: i64) -> bool {
        // Saturating: a clock before 1970 may queue an item at the end of
        // time (`i64::MAX`: a calendar that never works again).
        self.base != i64::MIN && s >= self.base && s.saturating_sub(self.base) < HORIZON
    }

    fn mark(&mut self, b: usize, on: bool) {
        let (w, bit) = (b / 64, b % 64);
        let Some(word) = self.full.get_mut(w) else {
            return;
        };
        if on {
            *word |= 1 << bit;
        } else {
            *word &= !(1 << bit);
        }
        let nonzero = *word != 0;
        if let Some(s) = self.summary.get_mut(w / 64) {
            if nonzero {
                *s |= 1 << (w % 64);
            } else {
                *s &= !(1 << (w % 64));
            }
        }
    }

    fn item(&self, n: u32) -> Option<T> {
        self.nodes.get(n as usize).map(|n| n.item)
    }

    fn next_of(&self, n: u32) -> u32 {
        self.nodes.get(n as usize).map_or(NIL, |n| n.next)
    }

    fn set_next(&mut self, n: u32, next: u32) {
        if let Some(node) = self.nodes.get_mut(n as usize) {
            node.next = next;
        }
    }

    /// A node holding `item`, linked to nothing.
    fn node(&mut self, item: T) -> u32 {
        if self.free != NIL {
            let n = self.free;
            if let Some(node) = self.nodes.get_mut(n as usize) {
                self.free = node.next;
                *node = Node { item, next: NIL };
            }
            return n;
        }
        self.nodes.push(Node { item, next: NIL });
        u32::try_from(self.nodes.len() - 1).unwrap_or(NIL)
    }

    /// Puts an item due within the horizon in its bucket, in order.
    fn insert(&mut self, d: T) {
        if self.ends.is_empty() {
            self.ends = vec![[NIL; 2]; HORIZON as usize];
        }
        let b = index(d.second());
        let n = self.node(d);
        let Some(&[head, tail]) = self.ends.get(b) else {
            return;
        };
        if head == NIL {
            self.ends[b] = [n, n];
            self.mark(b, true);
        } else if self.item(tail).is_some_and(|t| t <= d) {
            // A clock that queues in order always lands here.
            self.set_next(tail, n);
            self.ends[b][1] = n;
        } else if self.item(head).is_some_and(|h| d < h) {
            self.set_next(n, head);
            self.ends[b][0] = n;
        } else {
            // After the last item not above `d`; the tail is above it.
            let mut at = head;
            loop {
                let next = self.next_of(at);
                if next == NIL || self.item(next).is_none_or(|x| d < x) {
                    break;
                }
                at = next;
            }
            let next = self.next_of(at);
            self.set_next(n, next);
            self.set_next(at, n);
        }
    }

    /// The first bucket holding an item, searching from the current
    /// second round the wheel.
    fn first_bucket(&self) -> Option<usize> {
        if self.base == i64::MIN {
            return None;
        }
        let start = index(self.base);
        let (w0, bit0) = (start / 64, start % 64);
        if let Some(&word) = self.full.get(w0) {
            let m = word & (!0u64 << bit0);
            if m != 0 {
                return Some(w0 * 64 + m.trailing_zeros() as usize);
            }
        }
        // The words after `w0`, then round to those before it (and `w0`'s
        // bits below `bit0`, the far end of the horizon).
        let next_word = |from: usize, to: usize| -> Option<usize> {
            let mut w = from;
            while w < to {
                let sw = w / 64;
                let m = self.summary.get(sw).copied().unwrap_or(0) & (!0u64 << (w % 64));
                if m != 0 {
                    let found = sw * 64 + m.trailing_zeros() as usize;
                    return (found < to).then_some(found);
                }
                w = (sw + 1) * 64;
            }
            None
        };
        let w = next_word(w0 + 1, WORDS).or_else(|| next_word(0, w0 + 1))?;
        let word = self.full.get(w).copied().unwrap_or(0);
        (word != 0).then(|| w * 64 + word.trailing_zeros() as usize)
    }

    /// The wheel's least item and its bucket.
    fn ring_first(&self) -> Option<(T, usize)> {
        let b = self.first_bucket()?;
        let head = self.ends.get(b)?[0];
        self.item(head).map(|d| (d, b))
    }

    /// Queues an item.
    pub fn push(&mut self, d: T) {
        self.len += 1;
        if self.base == i64::MIN {
            self.base = d.second();
        }
        let far = !self.in_ring(d.second());
        if far {
            self.far.push(d);
            if self.far_first.is_none_or(|f| d < f) {
                self.far_first = Some(d);
            }
        } else {
            self.insert(d);
        }
        if self.next.is_none_or(|(n, _)| d < n) {
            self.next = Some((d, far));
        }
    }

    /// The next item; [`Wheel::pop`] takes exactly this one.
    pub fn peek(&self) -> Option<T> {
        self.next.map(|(d, _)| d)
    }

    /// The least of the ring's first item and the far queue's.
    fn find_next(&self) -> Option<(T, bool)> {
        match (self.ring_first(), self.far_first) {
            (Some((r, _)), Some(f)) if f < r => Some((f, true)),
            (Some((r, _)), _) => Some((r, false)),
            (None, f) => f.map(|f| (f, true)),
        }
    }

    /// Moves the current second forward to `s` (the ring holds nothing
    /// before it) and lets in the far items that come within the horizon.
    fn advance(&mut self, s: i64) {
        if s <= self.base {
            return;
        }
        self.base = s;
        while let Some(f) = self.far_first {
            let fs = f.second();
            if fs < s || fs.saturating_sub(s) >= HORIZON {
                break;
            }
            self.take_far();
            self.insert(f);
        }
    }

    /// Takes `far`'s least item.
    fn take_far(&mut self) -> Option<T> {
        let f = self.far.pop();
        self.far_first = self.far.peek();
        f
    }

    /// Takes the next item.
    pub fn pop(&mut self) -> Option<T> {
        let (d, far) = self.next?;
        if far {
            self.take_far()?;
        } else {
            // The least item of the ring heads its bucket.
            let b = index(d.second());
            let head = self.ends.get(b)?[0];
            let next = self.next_of(head);
            self.ends[b][0] = next;
            if next == NIL {
                self.ends[b][1] = NIL;
                self.mark(b, false);
            }
            self.set_next(head, self.free);
            self.free = head;
        }
        self.len -= 1;
        self.advance(d.second());
        self.next = self.find_next();
        Some(d)
    }

    /// Takes out one queued item equal to `d` if it waits in the ring;
    /// returns whether it did. An item in the far queue stays (the caller
    /// still has to tell it is stale when it comes out): only the ring's
    /// lists can unlink a node cheaply.
    pub fn remove(&mut self, d: &T) -> bool {
        let s = d.second();
        if !self.in_ring(s) {
            return false;
        }
        let b = index(s);
        let Some(&[head, tail]) = self.ends.get(b) else {
            return false;
        };
        let (mut prev, mut at) = (NIL, head);
        while at != NIL {
            match self.item(at) {
                Some(x) if x == *d => break,
                Some(x) if *d < x => return false,
                _ => {}
            }
            prev = at;
            at = self.next_of(at);
        }
        if at == NIL {
            return false;
        }
        let next = self.next_of(at);
        if prev == NIL {
            self.ends[b][0] = next;
        } else {
            self.set_next(prev, next);
        }
        if at == tail {
            self.ends[b][1] = prev;
        }
        if next == NIL && prev == NIL {
            self.mark(b, false);
        }
        self.set_next(at, self.free);
        self.free = at;
        self.len -= 1;
        if self.next.is_some_and(|(n, far)| !far && n == *d) {
            self.next = self.find_next();
        }
        true
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radix::tests::{Due, xorshift};

    /// The radix heap's test item, its instant read as nanoseconds, like
    /// the monitor's items.
    impl Timed for Due {
        fn second(&self) -> i64 {
            self.at.div_euclid(1_000_000_000)
        }
    }

    /// The same pushes and pops as a radix heap, item for item: spreads
    /// from nanoseconds to years ahead (inside the horizon, beyond it,
    /// and across it as the clock moves), ties, and pushes at the very
    /// instant just taken.
    #[test]
    fn pops_what_the_radix_heap_pops() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut wheel = Wheel::default();
        let mut heap = RadixQueue::default();
        let mut now = -5_000_000_000_000_i64;
        let mut popped = 0;
        for round in 0..20_000u32 {
            for _ in 0..(next() % 4) {
                let ahead = (next() % (1 << (next() % 58))) as i64;
                let d = Due {
                    at: now + ahead,
                    slot: round % 7,
                };
                wheel.push(d);
                heap.push(d);
            }
            now += (next() % 40_000_000_000) as i64;
            while let Some(p) = heap.peek().filter(|d| d.at <= now) {
                assert_eq!(wheel.peek(), Some(p));
                assert_eq!(wheel.pop(), heap.pop());
                popped += 1;
            }
            assert_eq!(wheel.len(), heap.len());
        }
        while let Some(d) = heap.pop() {
            assert_eq!(wheel.pop(), Some(d));
            popped += 1;
        }
        assert_eq!(wheel.pop(), None);
        assert!(popped > 20_000, "{popped}");
    }

    /// Removing items as they are queued and popping the rest gives the
    /// order of a sorted set that saw the same pushes and removals; an
    /// item beyond the horizon is not removed, an absent one never. Half
    /// the items fall in a few seconds' buckets, so that removals take
    /// heads, tails and middles of lists that later pushes append to.
    #[test]
    fn removes_what_waits_in_the_ring() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut wheel = Wheel::default();
        let mut set = std::collections::BTreeSet::new();
        let mut now = 0_i64;
        let (mut removed, mut kept_far) = (0, 0);
        let mut slot = 0;
        for _ in 0..20_000u32 {
            for _ in 0..2 {
                for _ in 0..(next() % 4) {
                    let ahead = if next().is_multiple_of(2) {
                        (next() % 5) as i64 * 1_000_000_000 + (next() % 3) as i64
                    } else {
                        (next() % (1 << (next() % 54))) as i64
                    };
                    slot += 1;
                    let d = Due {
                        at: now + ahead,
                        slot,
                    };
                    wheel.push(d);
                    set.insert(d);
                }
                if let Some(&d) = set.iter().nth((next() % 12) as usize) {
                    if wheel.remove(&d) {
                        set.remove(&d);
                        removed += 1;
                    } else {
                        assert!(!wheel.in_ring(d.second()), "{d:?} is in the ring");
                        kept_far += 1;
                    }
                    assert!(!wheel.remove(&Due {
                        at: d.at,
                        slot: u32::MAX
                    }));
                }
            }
            now += (next() % 3_000_000_000) as i64;
            while let Some(&p) = set.first().filter(|d| d.at <= now) {
                assert_eq!(wheel.peek(), Some(p));
                assert_eq!(wheel.pop(), Some(p));
                set.remove(&p);
            }
            assert_eq!(wheel.len(), set.len());
        }
        while let Some(p) = set.pop_first() {
            assert_eq!(wheel.pop(), Some(p));
        }
        assert_eq!(wheel.pop(), None);
        assert!(removed > 1_000 && kept_far > 100, "{removed} {kept_far}");
    }

    /// An instant in whole seconds, like the simulator's items.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct Sec(i64, u32);

    impl RadixKey for Sec {
        fn key(&self) -> u128 {
            crate::radix::signed(self.0) << 64 | u128::from(self.1)
        }
    }

    impl Timed for Sec {
        fn second(&self) -> i64 {
            self.0
        }
    }

    /// Seconds at both ends of the range: an item at the end of time
    /// (a calendar that never works again), queued by a clock before 1970,
    /// waits beyond the horizon; its distance does not overflow.
    #[test]
    fn the_end_of_time_is_beyond_the_horizon() {
        let mut w = Wheel::default();
        let early = -5_000_000_000;
        w.push(Sec(early, 1));
        w.push(Sec(i64::MAX, 2));
        w.push(Sec(early + 5, 3));
        let order: Vec<u32> = std::iter::from_fn(|| w.pop()).map(|d| d.1).collect();
        assert_eq!(order, [1, 3, 2]);
    }

    /// A caller that is not monotone still gets every item in order.
    #[test]
    fn an_item_before_the_current_second_comes_out_first() {
        let mut w = Wheel::default();
        let s = 1_000_000_000;
        w.push(Due {
            at: 100 * s,
            slot: 1,
        });
        w.push(Due {
            at: 200 * s,
            slot: 2,
        });
        w.push(Due {
            at: 100 * s + 5,
            slot: 3,
        });
        assert_eq!(w.pop().map(|d| d.slot), Some(1));
        w.push(Due {
            at: 50 * s,
            slot: 4,
        });
        w.push(Due {
            at: 100 * s,
            slot: 5,
        });
        assert_eq!(w.peek().map(|d| d.slot), Some(4));
        let order: Vec<u32> = std::iter::from_fn(|| w.pop()).map(|d| d.slot).collect();
        assert_eq!(order, [4, 5, 3, 2]);
        assert_eq!(w.len(), 0);
    }
}

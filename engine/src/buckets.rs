//! A bucket queue (a calendar queue sorted lazily), for the clocks of the
//! simulator's event loop and of the threshold monitor.
//!
//! Both queue most items a few seconds to a few days ahead of their clock
//! and take them strictly in order. A timing wheel of sorted lists (what
//! this replaced) cost two cache misses a push at a city's volume (the
//! bucket's ends in a table of megabytes, then the list's tail node) and
//! one a pop (the next head node).
//!
//! Here time is cut into spans of [`WIDTH`] seconds. Items due in a later
//! span within [`SPANS`] spans are appended, unsorted, to that span's
//! vector (a store; the vectors' headers fit in the second-level cache).
//! When the clock reaches a span, its vector is sorted in place, and the
//! items come out of that small, warm run from its front in `Ord` order
//! (a sort once and a step per item cost less than a binary heap's sifting
//! per item: 2% of a simulated year's instructions went to popping). Items
//! due in the current span (or before it) are put into that run at their
//! place, mostly near its end (what is queued now is mostly due later).
//! Items beyond the last span wait in a [`RadixQueue`] and enter their
//! span when the clock comes within reach of it. Memory is
//! what is queued, the spare room of each span's vector, and a few spent
//! runs' buffers kept for the next spans to fill (a span's vector grown
//! from nothing again and again cost 1.3% of a simulated year's
//! instructions in reallocations).

use crate::radix::{RadixKey, RadixQueue};

/// An item with an instant.
pub(crate) trait Timed: RadixKey {
    /// The whole second it is due in (floor).
    fn second(&self) -> i64;
}

/// Seconds a span covers.
const WIDTH: i64 = 64;
/// Spans ahead of the current one (about six days: most resolve deadlines
/// and feedback fall within them).
const SPANS: usize = 1 << 13;
const WORDS: usize = SPANS / 64;
/// Spent buffers kept for reuse: enough for the spans filling at once
/// near the clock, few enough that the spare room stays small.
const SPARE: usize = 64;
/// Spans this close to the current one (a day) take spare buffers: the
/// day's acceptances, finishes, ratings and respond deadlines.
const NEAR: i64 = 1350;
/// A buffer grown past this many items (a burst) is freed, not kept.
const SPARE_ITEMS: usize = 4096;

/// The queue; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct BucketQueue<T> {
    /// The first second of the current span (a multiple of [`WIDTH`]);
    /// `None` until the first push.
    current: Option<i64>,
    /// The items of the current span, and any due before it, in order
    /// from `head` on (those before `head` were taken).
    run: Vec<T>,
    head: usize,
    /// Per span, by its number modulo [`SPANS`]: items of the span, unsorted.
    spans: Vec<Vec<T>>,
    /// Bit per span that holds items.
    full: Vec<u64>,
    /// Items due at or after the end of the last span.
    far: RadixQueue<T>,
    len: usize,
    /// Emptied buffers, for spans that get their first item.
    spare: Vec<Vec<T>>,
}

impl<T: Timed> Default for BucketQueue<T> {
    fn default() -> Self {
        BucketQueue {
            current: None,
            run: Vec::new(),
            head: 0,
            spans: vec![Vec::new(); SPANS],
            full: vec![0; WORDS],
            far: RadixQueue::default(),
            len: 0,
            spare: Vec::new(),
        }
    }
}

/// The number of the span holding second `s`.
fn span_of(s: i64) -> i64 {
    s.div_euclid(WIDTH)
}

/// The first second of span number `n`.
fn span_start(n: i64) -> i64 {
    n.saturating_mul(WIDTH)
}

/// Puts `items`, all of the span starting at second `start`, into `out`
/// in order: by second first, by counting (two passes, where comparing
/// sorts cost a twentieth of a simulated year's instructions, most of it
/// in mispredicted branches), then each second's few by `Ord`.
fn in_order<T: Timed>(items: &[T], start: i64, out: &mut Vec<T>) {
    let offset = |d: &T| usize::try_from(d.second() - start).unwrap_or(0);
    // Where each second's items begin in `out`: counted one place up,
    // then summed.
    let mut begin = [0usize; WIDTH as usize + 1];
    for d in items {
        if let Some(n) = begin.get_mut(offset(d) + 1) {
            *n += 1;
        }
    }
    for s in 1..begin.len() {
        begin[s] += begin[s - 1];
    }
    out.clear();
    out.extend_from_slice(items);
    let mut end = begin;
    for d in items {
        if let Some(at) = end.get_mut(offset(d))
            && let Some(place) = out.get_mut(*at)
        {
            *place = *d;
            *at += 1;
        }
    }
    for w in begin.windows(2) {
        if let Some(second) = out.get_mut(w[0]..w[1])
            && second.len() > 1
        {
            second.sort_unstable();
        }
    }
}

/// The place of span number `n` in the ring.
fn ring(n: i64) -> usize {
    n.rem_euclid(SPANS as i64) as usize
}

impl<T: Timed> BucketQueue<T> {
    /// Queues an item.
    pub fn push(&mut self, d: T) {
        self.len += 1;
        let span = span_of(d.second());
        let current = *self.current.get_or_insert(span);
        if span <= current {
            // After everything that orders before it or equal to it (equal
            // items are interchangeable).
            let live = self.run.get(self.head..).unwrap_or_default();
            let at = self.head + live.partition_point(|x| *x <= d);
            self.run.insert(at, d);
        } else if span - current < SPANS as i64 {
            self.put(span, d);
        } else {
            self.far.push(d);
        }
        // Whatever is queued, the run holds the least of it: `peek` and
        // `pop` never have to look further.
        if self.head == self.run.len() {
            self.used_up();
        }
    }

    /// The next item; [`BucketQueue::pop`] takes exactly this one.
    pub fn peek(&self) -> Option<T> {
        self.run.get(self.head).copied()
    }

    /// Takes the next item.
    pub fn pop(&mut self) -> Option<T> {
        let d = *self.run.get(self.head)?;
        self.head += 1;
        self.len -= 1;
        if self.head == self.run.len() {
            self.used_up();
        }
        Some(d)
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.len
    }

    fn put(&mut self, span: i64, d: T) {
        let r = ring(span);
        if let Some(v) = self.spans.get_mut(r) {
            // Only spans near the clock, which fill the most, take a spare:
            // given to the thousands of spans days ahead, which mostly hold
            // an item or two, the spares' room would add up to tens of
            // megabytes.
            let near = self.current.is_some_and(|c| span - c < NEAR);
            if near
                && v.capacity() == 0
                && let Some(buf) = self.spare.pop()
            {
                *v = buf;
            }
            v.push(d);
        }
        if let Some(w) = self.full.get_mut(r / 64) {
            *w |= 1 << (r % 64);
        }
    }

    /// The run is used up: forgets what it held and refills it.
    fn used_up(&mut self) {
        self.run.clear();
        self.head = 0;
        self.refill();
    }

    /// With the run used up: moves the clock to the next span holding
    /// items, lets in the far items that come within reach, and makes
    /// that span's items, sorted, the run.
    fn refill(&mut self) {
        let Some(current) = self.current else { return };
        if self.len == 0 {
            return;
        }
        let next_ring = self.next_full(current);
        let far = self.far.peek().map(|f| span_of(f.second()));
        let next = match (next_ring, far) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return,
        };
        self.current = Some(next);
        while let Some(f) = self.far.peek() {
            let span = span_of(f.second());
            if span - next >= SPANS as i64 {
                break;
            }
            self.far.pop();
            self.put(span, f);
        }
        let r = ring(next);
        if let Some(w) = self.full.get_mut(r / 64) {
            *w &= !(1 << (r % 64));
        }
        let start = span_start(next);
        if let Some(v) = self.spans.get_mut(r) {
            // The span's items, in order, fill the used-up run's buffer,
            // which stays the run. The span's buffer goes to the spares,
            // not back to its span: kept there, every span's buffer would
            // grow to the most any span has held.
            let next = std::mem::take(v);
            let mut out = std::mem::take(&mut self.run);
            in_order(&next, start, &mut out);
            self.run = out;
            let mut spent = next;
            debug_assert!(self.run.is_sorted(), "a span's items out of order");
            self.head = 0;
            spent.clear();
            if (1..=SPARE_ITEMS).contains(&spent.capacity()) && self.spare.len() < SPARE {
                self.spare.push(spent);
            }
        }
    }

    /// The number of the first span after `current` that holds items.
    fn next_full(&self, current: i64) -> Option<i64> {
        let start = ring(current + 1);
        let found = self
            .first_bit_from(start, WORDS * 64)
            .or_else(|| self.first_bit_from(0, start))?;
        // Ring places after `start` are that many spans after `current + 1`.
        let ahead = (found + SPANS - start) % SPANS;
        Some(current + 1 + ahead as i64)
    }

    /// The first set bit of `full` in `[from, to)`.
    fn first_bit_from(&self, from: usize, to: usize) -> Option<usize> {
        let mut w = from / 64;
        let mut mask = !0u64 << (from % 64);
        while w * 64 < to {
            let bits = self.full.get(w).copied().unwrap_or(0) & mask;
            if bits != 0 {
                let b = w * 64 + bits.trailing_zeros() as usize;
                return (b < to).then_some(b);
            }
            w += 1;
            mask = !0;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::radix::tests::{Due, xorshift};

    /// In these tests `at` is in seconds.
    impl Timed for Due {
        fn second(&self) -> i64 {
            self.at
        }
    }

    /// Against a sorted set, with items due from the current second to
    /// far beyond the last span, some before the current span (a caller
    /// that is not monotone), and gaps longer than the ring.
    #[test]
    fn pops_in_order() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut q = BucketQueue::default();
        let mut set = std::collections::BTreeSet::new();
        let mut now = -3_000_000_i64;
        let (mut popped, mut pushed) = (0, 0u32);
        for round in 0..30_000u32 {
            for _ in 0..(next() % 5) {
                let ahead = match next() % 8 {
                    0 => -((next() % 500) as i64),
                    1..=4 => (next() % 7_200) as i64,
                    // Many items of one second.
                    5 => (next() % 3) as i64 * 100,
                    6 => (next() % 600_000) as i64,
                    _ => (next() % (1 << (next() % 40))) as i64,
                };
                pushed += 1;
                // Distinct tie-breakers, not in push order.
                let d = Due {
                    at: now + ahead,
                    slot: pushed.wrapping_mul(0x9e37_79b1),
                };
                q.push(d);
                set.insert(d);
            }
            now += if round % 5_000 == 0 {
                2_000_000
            } else {
                (next() % 120) as i64
            };
            while let Some(&p) = set.first().filter(|d| d.at <= now) {
                assert_eq!(q.peek(), Some(p));
                assert_eq!(q.pop(), Some(p));
                set.remove(&p);
                popped += 1;
            }
            assert_eq!(q.len(), set.len());
        }
        while let Some(p) = set.pop_first() {
            assert_eq!(q.pop(), Some(p));
            popped += 1;
        }
        assert_eq!((q.pop(), q.peek(), q.len()), (None, None, 0));
        assert!(popped > 40_000, "{popped}");
    }

    #[test]
    fn an_item_beyond_every_span_comes_out_when_nothing_else_is_left() {
        let mut q = BucketQueue::default();
        let far = Due {
            at: 10 * WIDTH * SPANS as i64,
            slot: 1,
        };
        q.push(Due { at: 5, slot: 0 });
        q.push(far);
        assert_eq!(q.pop(), Some(Due { at: 5, slot: 0 }));
        assert_eq!(q.peek(), Some(far));
        q.push(Due {
            at: far.at - 1,
            slot: 2,
        });
        assert_eq!(q.pop().map(|d| d.slot), Some(2));
        assert_eq!(q.pop(), Some(far));
        assert_eq!(q.pop(), None);
    }

    /// Seconds at both ends of the range: an item at the end of time (a
    /// calendar that never works again), queued by a clock before 1970,
    /// waits beyond the last span; its distance does not overflow.
    #[test]
    fn the_end_of_time_waits_beyond_the_last_span() {
        let mut q = BucketQueue::default();
        let early = -5_000_000_000;
        q.push(Due { at: early, slot: 1 });
        q.push(Due {
            at: i64::MAX,
            slot: 2,
        });
        q.push(Due {
            at: early + 5,
            slot: 3,
        });
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|d| d.slot).collect();
        assert_eq!(order, [1, 3, 2]);
    }

    /// A caller that is not monotone still gets every item in order.
    #[test]
    fn an_item_before_the_current_span_comes_out_first() {
        let mut q = BucketQueue::default();
        for (at, slot) in [(10_000, 1), (20_000, 2), (10_005, 3)] {
            q.push(Due { at, slot });
        }
        assert_eq!(q.pop().map(|d| d.slot), Some(1));
        q.push(Due { at: 50, slot: 4 });
        q.push(Due {
            at: 10_000,
            slot: 5,
        });
        assert_eq!(q.peek().map(|d| d.slot), Some(4));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|d| d.slot).collect();
        assert_eq!(order, [4, 5, 3, 2]);
        assert_eq!(q.len(), 0);
    }
}

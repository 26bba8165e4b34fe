//! [`Times`]: the report times of one `repeats` key, sorted, in 16 bytes.
//!
//! A year of a city's events holds a million keys in the `repeats` index
//! at once, and most of them (a location reported once) hold one time.
//! The first time is kept in place and the others, when there are any, on
//! the heap: 16 bytes a key instead of a small vector's 24. The index's
//! table doubles at about a million keys, and holds both arrays while it
//! grows, so each byte of a key counts three million times at the peak.
//!
//! The others are a [`ThinVec`]: one pointer to their length, capacity
//! and times in one allocation. Recording a time at a key reads the
//! length and writes the end; through a boxed `Vec` that was a read of the
//! box, then of the times, two cache misses in a row on a cold key.

use thin_vec::ThinVec;

/// Report times (seconds), sorted ascending, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Times {
    first: i64,
    /// The times after `first`; holds no allocation while empty.
    rest: ThinVec<i64>,
}

impl Times {
    /// One time.
    pub fn one(t: i64) -> Times {
        Times {
            first: t,
            rest: ThinVec::new(),
        }
    }

    fn rest(&self) -> &[i64] {
        &self.rest
    }

    /// The latest.
    pub fn last(&self) -> i64 {
        self.rest().last().copied().unwrap_or(self.first)
    }

    /// The number of leading times for which `pred` holds (`pred` holds
    /// for a prefix, as for [`slice::partition_point`]).
    pub fn partition_point(&self, pred: impl Fn(i64) -> bool) -> usize {
        if !pred(self.first) {
            return 0;
        }
        1 + self.rest().partition_point(|&x| pred(x))
    }

    /// Adds `t` after every time not above it.
    pub fn insert(&mut self, t: i64) {
        if t < self.first {
            let old = std::mem::replace(&mut self.first, t);
            self.rest.insert(0, old);
            return;
        }
        // Events mostly come in time order, so this is usually a push, and
        // the last time says so from the line the push writes.
        if self.rest.last().is_none_or(|&x| x <= t) {
            self.rest.push(t);
            return;
        }
        let at = self.rest.partition_point(|&x| x <= t);
        self.rest.insert(at, t);
    }

    /// Forgets the times before `cutoff`, unless that would forget them
    /// all (the caller drops such a key instead): returns whether any
    /// time is left at or after `cutoff`.
    pub fn keep_from(&mut self, cutoff: i64) -> bool {
        // Most keys of a sweep hold nothing old: the time in place says so
        // without a read of the heap (a cache miss per key of a city).
        if self.first >= cutoff {
            return true;
        }
        if self.last() < cutoff {
            return false;
        }
        let old = self.partition_point(|x| x < cutoff);
        if old > 0 {
            // The new first is `rest[old - 1]`: at least one is left.
            self.first = self.rest.get(old - 1).copied().unwrap_or(self.first);
            self.rest.drain(..old);
            if self.rest.is_empty() {
                // Free the allocation: most keys go back to one time.
                self.rest = ThinVec::new();
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Times;

    fn all(t: &Times) -> Vec<i64> {
        std::iter::once(t.first)
            .chain(t.rest().iter().copied())
            .collect()
    }

    /// Inserts, cut-offs and searches agree with a sorted vector, for
    /// times in and out of order and repeated.
    #[test]
    fn behaves_as_a_sorted_vector() {
        let mut next = crate::radix::tests::xorshift(0x1234_5678_9abc_def1);
        let mut checked = 0;
        for _ in 0..2_000 {
            let t0 = (next() % 50) as i64;
            let mut t = Times::one(t0);
            let mut v = vec![t0];
            for _ in 0..(next() % 12) {
                let x = (next() % 60) as i64 - 5;
                if next().is_multiple_of(4) {
                    let kept = t.keep_from(x);
                    assert_eq!(kept, v.last().is_some_and(|&l| l >= x));
                    if kept {
                        v.retain(|&y| y >= x);
                    } else {
                        // The caller drops the key; start a new one.
                        t = Times::one(x);
                        v = vec![x];
                    }
                } else {
                    t.insert(x);
                    let at = v.partition_point(|&y| y <= x);
                    v.insert(at, x);
                }
                assert_eq!(all(&t), v);
                assert_eq!(t.last(), v[v.len() - 1]);
                let q = (next() % 60) as i64 - 5;
                assert_eq!(t.partition_point(|y| y < q), v.partition_point(|&y| y < q));
                assert_eq!(
                    t.partition_point(|y| y <= q),
                    v.partition_point(|&y| y <= q)
                );
                assert!(!t.rest.is_empty() || t.rest.capacity() == 0);
                checked += 1;
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn takes_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Times>(), 16);
    }
}

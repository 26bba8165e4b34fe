//! [`Lane`]: a first-in, first-out queue in fixed-size chunks, for the
//! exits of one window length.
//!
//! A 30-day window of a city holds about a million exits. A `VecDeque`
//! that size doubles its capacity as it grows, and holds the old and the
//! new buffer while it copies: up to three times what it holds, at the
//! moment the simulator's memory peaks. Chunks grow by one at a time and
//! are freed as they empty, so a lane takes what it holds, plus a chunk.

use std::collections::VecDeque;

/// Items per chunk (64 KB of 16-byte items).
const CHUNK: usize = 4096;

/// A FIFO queue that never copies its items to grow.
#[derive(Debug, Clone)]
pub(super) struct Lane<T> {
    chunks: VecDeque<Vec<T>>,
    /// Items of the front chunk already taken.
    head: usize,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Lane {
            chunks: VecDeque::new(),
            head: 0,
        }
    }
}

impl<T: Copy> Lane<T> {
    /// The oldest item.
    pub fn front(&self) -> Option<&T> {
        self.chunks.front().and_then(|c| c.get(self.head))
    }

    /// The newest item.
    pub fn back(&self) -> Option<&T> {
        self.chunks.back().and_then(|c| c.last())
    }

    pub fn push_back(&mut self, item: T) {
        match self.chunks.back_mut() {
            Some(c) if c.len() < CHUNK => c.push(item),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(item);
                self.chunks.push_back(c);
            }
        }
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let more = self.chunks.len() > 1;
        let front = self.chunks.front_mut()?;
        let item = *front.get(self.head)?;
        self.head += 1;
        if self.head == front.len() {
            // Emptied: a chunk with others behind it goes; the last one is
            // kept for the next pushes.
            if more {
                self.chunks.pop_front();
            } else {
                front.clear();
            }
            self.head = 0;
        }
        Some(item)
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum::<usize>() - self.head
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::{CHUNK, Lane};
    use crate::radix::tests::xorshift;

    /// Pushes and pops in random runs, across chunk boundaries and through
    /// empty spells, give what a `VecDeque` gives, and emptied chunks go.
    #[test]
    fn behaves_as_a_vec_deque() {
        let (mut lane, mut model) = (Lane::default(), VecDeque::new());
        let mut rand = xorshift(7);
        let mut next = 0u64;
        for _ in 0..2_000 {
            let run = (rand() % (2 * CHUNK as u64)) as usize;
            if rand().is_multiple_of(2) {
                for _ in 0..run {
                    lane.push_back(next);
                    model.push_back(next);
                    next += 1;
                }
            } else {
                for _ in 0..run {
                    assert_eq!(lane.pop_front(), model.pop_front());
                }
            }
            assert_eq!(lane.front(), model.front());
            assert_eq!(lane.back(), model.back());
            assert_eq!(lane.len(), model.len());
            assert!(
                lane.chunks.len() <= model.len() / CHUNK + 2,
                "emptied chunks go"
            );
        }
    }
}

//! Finding an event's slot by its id, with as few cache misses as the
//! monitor's volume needs (hundreds of thousands of events in a 30-day
//! window: the index and the slots are far larger than the caches).
//!
//! [`EventId`] keeps a short id inside the slot itself, so checking a
//! candidate slot reads no other memory. [`IdIndex`] is an open-addressing
//! table of 8-byte `(hash, slot)` cells in one array (32 bits of hash,
//! linear probing, at most three quarters full, backward-shift deletion):
//! a lookup usually touches one cache line of the index and then the slot,
//! and the index of a 30-day window of 10 million events a year is 8 MB.
//! Distinct ids with equal hashes are told apart by comparing the ids in
//! the slots.

use std::hash::BuildHasher;

/// An event id, inline when it is at most 22 bytes (ids like `EV-00000001`).
pub(super) use crate::inline::InlineStr as EventId;

/// The hash of an id, folded to 32 bits; never 0 (0 marks an empty cell).
pub(super) fn hash(id: &str) -> u32 {
    let h = rustc_hash::FxBuildHasher.hash_one(id);
    ((h >> 32) as u32 ^ h as u32).max(1)
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    hash: u32,
    slot: u32,
}

/// Id hash → slot; see the module documentation.
#[derive(Debug, Clone, Default)]
pub(super) struct IdIndex {
    cells: Vec<Cell>,
    len: usize,
}

impl IdIndex {
    fn mask(&self) -> usize {
        self.cells.len().saturating_sub(1)
    }

    fn home(&self, hash: u32) -> usize {
        hash as usize & self.mask()
    }

    /// The slot whose id has `hash` and for which `is_it` holds.
    pub fn find(&self, hash: u32, is_it: impl Fn(u32) -> bool) -> Option<u32> {
        if self.cells.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            let c = self.cells.get(i).copied().unwrap_or_default();
            if c.hash == 0 {
                return None;
            }
            if c.hash == hash && is_it(c.slot) {
                return Some(c.slot);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn insert(&mut self, hash: u32, slot: u32) {
        if (self.len + 1) * 4 > self.cells.len() * 3 {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(hash);
        while self.cells.get(i).is_some_and(|c| c.hash != 0) {
            i = (i + 1) & mask;
        }
        if let Some(c) = self.cells.get_mut(i) {
            *c = Cell { hash, slot };
            self.len += 1;
        }
    }

    fn grow(&mut self) {
        let cap = (self.cells.len() * 2).max(16);
        let old = std::mem::replace(&mut self.cells, vec![Cell::default(); cap]);
        self.len = 0;
        for c in old.into_iter().filter(|c| c.hash != 0) {
            self.insert(c.hash, c.slot);
        }
    }

    /// Removes the cell of `slot` (whose id has `hash`).
    pub fn remove(&mut self, hash: u32, slot: u32) {
        if self.cells.is_empty() {
            return;
        }
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            let Some(c) = self.cells.get(i).copied() else {
                return;
            };
            if c.hash == 0 {
                return;
            }
            if c.hash == hash && c.slot == slot {
                break;
            }
            i = (i + 1) & mask;
        }
        // Backward shift: move later cells of the run into the hole when
        // their home is at or before it, so no lookup meets an empty cell
        // before its own.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let Some(c) = self.cells.get(j).copied() else {
                break;
            };
            if c.hash == 0 {
                break;
            }
            let k = self.home(c.hash);
            let between = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !between {
                if let Some(hole) = self.cells.get_mut(i) {
                    *hole = c;
                }
                i = j;
            }
        }
        if let Some(hole) = self.cells.get_mut(i) {
            *hole = Cell::default();
        }
        self.len -= 1;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_short_ids() {
        assert!(EventId::new("EV-00000001").is("EV-00000001"));
        assert!(!EventId::new("EV-00000001").is("EV-0000000"));
        let long = "a-very-long-event-identifier-from-a-hotline-system";
        assert!(EventId::new(long).is(long));
    }

    /// Every id hashes alike: lookups and removals still find exactly
    /// the right slot through the collisions.
    #[test]
    fn colliding_hashes_are_told_apart_and_removal_keeps_runs_whole() {
        let ids: Vec<String> = (0..200).map(|i| format!("E{i}")).collect();
        let mut index = IdIndex::default();
        for i in 0..200u32 {
            // A constant hash: one long run.
            index.insert(7, i);
        }
        let is = |want: &str| {
            let ids = &ids;
            let want = want.to_string();
            move |s: u32| ids[s as usize] == want
        };
        assert_eq!(index.find(7, is("E150")), Some(150));
        for i in (0..200u32).step_by(3) {
            index.remove(7, i);
        }
        for i in 0..200u32 {
            let found = index.find(7, is(&format!("E{i}")));
            assert_eq!(found, (i % 3 != 0).then_some(i), "E{i}");
        }
        assert_eq!(index.len(), 133);
    }

    #[test]
    fn many_ids_with_real_hashes() {
        let ids: Vec<String> = (0..5000).map(|i| format!("EV-{i:08}")).collect();
        let mut index = IdIndex::default();
        for (i, id) in ids.iter().enumerate() {
            index.insert(hash(id), i as u32);
        }
        for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            index.remove(hash(id), i as u32);
        }
        for (i, id) in ids.iter().enumerate() {
            let found = index.find(hash(id), |s| ids[s as usize] == *id);
            assert_eq!(found, (i % 2 == 1).then_some(i as u32));
        }
    }
}

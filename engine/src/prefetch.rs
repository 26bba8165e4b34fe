//! Asking the processor for memory the next step will read.
//!
//! The simulator's year is bound by memory: each wake-up of an event reads
//! a slot last touched hours earlier. The loop knows which slot comes next
//! before it is done with the current one, so it asks for those cache
//! lines early and the wait overlaps with work.

/// Bytes of a cache line on the machines Whistle runs on.
const LINE: usize = 64;

/// Asks for the cache lines holding `value`.
#[inline]
pub(crate) fn value<T>(value: &T) {
    bytes(
        std::ptr::from_ref(value).cast::<u8>(),
        std::mem::size_of::<T>(),
    );
}

/// Asks for the cache lines holding the items of `items`.
#[inline]
pub(crate) fn slice<T>(items: &[T]) {
    bytes(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items));
}

#[inline]
fn bytes(p: *const u8, len: usize) {
    // From the start of `p`'s line: bytes that begin mid-line and cross
    // into the next one need both.
    let lead = p.addr() % LINE;
    let mut off = 0;
    while off < len + lead {
        line(p.wrapping_sub(lead).wrapping_add(off));
        off += LINE;
    }
}

/// Bytes `arcstr` keeps before a name's text: its length and its count,
/// which cloning a name reads first.
const NAME_HEADER: usize = 16;

/// Where a name lies in memory, taken while the name is at hand, so that
/// it can be asked for later without reading the name's own pointer (a
/// cache miss of its own where names sit in a table read cold). The
/// address is kept as a number: a spot is never read through, only asked
/// for, and a wrong one costs a wasted request, never a wrong result.
///
/// One word, so that a record of several fits a cache line: the address
/// in the low 48 bits (all a user address takes on the machines Whistle
/// runs on; any other is not kept), the bytes to ask for above them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Spot(u64);

const ADDR_BITS: u32 = 48;

impl Spot {
    /// Where `name` lies (reads the name).
    pub(crate) fn of(name: &crate::lifecycle::Name) -> Spot {
        let text = name.as_str();
        let addr = text.as_ptr().addr().saturating_sub(NAME_HEADER) as u64;
        // The header and the text, at most two lines' worth.
        let len = (NAME_HEADER + text.len()).min(2 * LINE) as u64;
        if addr >> ADDR_BITS != 0 {
            return Spot(0);
        }
        Spot(addr | len << ADDR_BITS)
    }

    /// Asks for the name's header and text.
    #[inline]
    pub(crate) fn ask(self) {
        let addr = (self.0 & ((1 << ADDR_BITS) - 1)) as usize;
        if addr != 0 {
            bytes(
                std::ptr::without_provenance(addr),
                (self.0 >> ADDR_BITS) as usize,
            );
        }
    }
}

/// Asks for the cache line holding `p`.
#[inline]
#[allow(unsafe_code)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that reads nothing a program can see and
    // cannot fault, whatever the address; `_mm_prefetch` is `unsafe` only
    // because it is a target-feature intrinsic, and SSE is part of x86_64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Name;

    fn parts(s: Spot) -> (usize, usize) {
        (
            (s.0 & ((1 << ADDR_BITS) - 1)) as usize,
            (s.0 >> ADDR_BITS) as usize,
        )
    }

    /// A spot starts at the name's header and ends with its text.
    #[test]
    fn a_spot_covers_the_header_and_the_text() {
        let name = Name::lasting("WH-S01-C02-G03");
        let (addr, len) = parts(Spot::of(&name));
        assert_eq!(addr + NAME_HEADER, name.as_str().as_ptr().addr());
        assert_eq!(len, NAME_HEADER + name.len());
    }

    /// A long name is asked for by its first two lines only.
    #[test]
    fn a_long_name_asks_for_two_lines() {
        let name = Name::from("网格".repeat(40).as_str());
        let (addr, len) = parts(Spot::of(&name));
        assert_eq!(addr + NAME_HEADER, name.as_str().as_ptr().addr());
        assert_eq!(len, 2 * LINE);
    }
}

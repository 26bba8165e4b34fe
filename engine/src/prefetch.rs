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

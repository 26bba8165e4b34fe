//! Short strings kept inside the structure that owns them, for indexes
//! far larger than the caches: checking a candidate then reads no other
//! memory, and holding one costs no allocation of its own.

/// A string, inline when it is at most 22 bytes (ids like `EV-00000001`,
/// grid and location ids), else on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InlineStr {
    /// Up to 22 bytes, in place.
    Inline {
        /// Bytes used.
        len: u8,
        /// The bytes, zero-padded.
        bytes: [u8; 22],
    },
    /// Longer ones.
    Heap(Box<str>),
}

impl InlineStr {
    /// Keeps `s`.
    pub fn new(s: &str) -> InlineStr {
        let b = s.as_bytes();
        if b.len() <= 22 {
            let mut bytes = [0u8; 22];
            bytes[..b.len()].copy_from_slice(b);
            InlineStr::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            InlineStr::Heap(s.into())
        }
    }

    /// The bytes kept.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            InlineStr::Inline { len, bytes } => &bytes[..usize::from(*len).min(22)],
            InlineStr::Heap(s) => s.as_bytes(),
        }
    }

    /// Whether it keeps exactly `s`.
    pub fn is(&self, s: &str) -> bool {
        self.as_bytes() == s.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_stay_inline_and_long_ones_go_to_the_heap() {
        let short = InlineStr::new("EV-00000001");
        assert!(matches!(short, InlineStr::Inline { .. }));
        assert!(short.is("EV-00000001"));
        assert!(!short.is("EV-0000000"));
        assert!(InlineStr::new("").is(""));
        let exact = "x".repeat(22);
        assert!(matches!(InlineStr::new(&exact), InlineStr::Inline { .. }));
        let long = "a-very-long-event-identifier-from-a-hotline-system";
        assert!(matches!(InlineStr::new(long), InlineStr::Heap(_)));
        assert!(InlineStr::new(long).is(long));
        assert!(!InlineStr::new(long).is(&long[1..]));
    }
}

//! Packing a decision's and a case's JSON for storage.
//!
//! The two are 1–1.5 KB of JSON each, three quarters of what an event
//! costs to store, and almost all of it is the same from one event to the
//! next: the keys, the policy's name and hash, the ladder's labels, the
//! trace's files. zstd with a dictionary trained on such texts packs the
//! pair into about 260 bytes (plain LZ4 or zstd: 1.3–1.7 KB), so a 4 KiB
//! page holds several events' rows instead of one, and the single writer
//! has that much less to write, to checkpoint and to flush. The
//! dictionary's entropy tables also spare zstd building its own for every
//! text, which is much of what packing a small text costs.
//!
//! A packed text is `[format] [length: u32 LE] [zstd frame]`. Format 1 uses
//! the dictionary `pack/dict-v1.zdict`, trained by `tools/pack-dict/train.py`
//! on the decisions and cases of the shipped district's events. **Its
//! bytes are frozen**: every stored event packed with it needs them to be
//! read back. A better dictionary is a new file and a new format byte,
//! with format 1 kept for what was written with it.

use std::cell::RefCell;
use std::sync::LazyLock;
use std::thread::LocalKey;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// The dictionary of format 1 (frozen; see the module's documentation).
static DICT_V1: &[u8] = include_bytes!("pack/dict-v1.zdict");

const FORMAT_V1: u8 = 1;

/// zstd's level: 1 is the fastest, and on these texts within 15% of
/// level 3's size.
const LEVEL: i32 = 1;

/// The longest text a packed length may claim: more is a damaged value,
/// not a decision (the request body limit is far below it).
const MAX_TEXT: usize = 64 << 20;

static ENCODER: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICT_V1, LEVEL));
static DECODER: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICT_V1));

thread_local! {
    // A zstd context is not shareable, and making one per text costs more
    // than packing it: each thread keeps its own.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's context in `slot`, made by `make` (`what`
/// names it in the error) on first use.
fn with_context<T, R>(
    slot: &'static LocalKey<RefCell<Option<T>>>,
    make: impl FnOnce() -> std::io::Result<T>,
    what: &str,
    f: impl FnOnce(&mut T) -> Result<R, String>,
) -> Result<R, String> {
    slot.with(|cell| {
        let mut slot = cell.borrow_mut();
        let context = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(make().map_err(|e| format!("cannot start the {what}: {e}"))?),
        };
        f(context)
    })
}

/// `json`, packed in the current format.
pub(crate) fn pack(json: &str) -> Result<Vec<u8>, String> {
    let len = u32::try_from(json.len())
        .map_err(|_| format!("a text of {} bytes is too long to pack", json.len()))?;
    let frame = with_context(
        &COMPRESSOR,
        || Compressor::with_prepared_dictionary(&ENCODER),
        "compressor",
        |c| {
            c.compress(json.as_bytes())
                .map_err(|e| format!("cannot pack a text: {e}"))
        },
    )?;
    let mut out = Vec::with_capacity(5 + frame.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame);
    Ok(out)
}

/// The JSON text `packed` holds, or what is wrong with it.
pub(crate) fn unpack(packed: &[u8]) -> Result<String, String> {
    let (&format, rest) = packed
        .split_first()
        .ok_or_else(|| "the packed text is empty".to_string())?;
    if format != FORMAT_V1 {
        return Err(format!(
            "the packed text has format {format}, which this version does not know \
             (it knows {FORMAT_V1}): was it written by a newer whistle?"
        ));
    }
    let (len, frame) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| "the packed text is cut short".to_string())?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_TEXT {
        return Err(format!("the packed text claims {len} bytes"));
    }
    let bytes = with_context(
        &DECOMPRESSOR,
        || Decompressor::with_prepared_dictionary(&DECODER),
        "decompressor",
        |d| {
            d.decompress(frame, len)
                .map_err(|e| format!("the packed text does not unpack: {e}"))
        },
    )?;
    if bytes.len() != len {
        return Err(format!(
            "the packed text unpacks to {} bytes, not the {len} it claims",
            bytes.len()
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("the packed text is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{DICT_V1, pack, unpack};

    /// A decision and a case as the server stores them (of events the
    /// dictionary was not trained on).
    const DECISION: &str = include_str!("pack/sample-decision.json");
    const CASE: &str = include_str!("pack/sample-case.json");

    #[test]
    fn a_text_round_trips_and_shrinks() {
        let other = r#"{"unit":"网格 G010101","note":"积水"}"#;
        for text in [DECISION, CASE, "", "{}", other] {
            let packed = pack(text).unwrap();
            assert_eq!(unpack(&packed).unwrap(), text);
        }
        for text in [DECISION, CASE] {
            let packed = pack(text).unwrap();
            assert!(
                packed.len() * 5 < text.len(),
                "{} bytes packed from {}",
                packed.len(),
                text.len()
            );
        }
    }

    #[test]
    fn the_dictionary_is_frozen() {
        // Events stored with format 1 need these exact bytes to be read.
        use sha2::{Digest, Sha256};
        assert_eq!(
            hex::encode(Sha256::digest(DICT_V1)),
            include_str!("pack/dict-v1.sha256").trim()
        );
    }

    #[test]
    fn damaged_or_unknown_packed_texts_are_errors() {
        let packed = pack(DECISION).unwrap();
        let cases: [(Vec<u8>, &str); 6] = [
            (Vec::new(), "empty"),
            (vec![1, 0, 0], "cut short"),
            ([&[2], &packed[1..]].concat(), "format 2"),
            (packed[..packed.len() - 7].to_vec(), "does not unpack"),
            (
                [&packed[..1], &u32::MAX.to_le_bytes(), &packed[5..]].concat(),
                "claims",
            ),
            (
                [&packed[..1], &3u32.to_le_bytes(), &packed[5..]].concat(),
                "unpack",
            ),
        ];
        for (bytes, want) in cases {
            let err = unpack(&bytes).unwrap_err();
            assert!(err.contains(want), "{err:?} should say {want:?}");
        }
    }
}

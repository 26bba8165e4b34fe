//! The journal's hash chain, independent of the database that keeps it.
//!
//! Entry `seq` (from 1) has
//!
//! ```text
//! hash = "sha256:" + hex(sha256(prev_hash "\n" seq "\n" event_id "\n" kind "\n" body))
//! ```
//!
//! where `prev_hash` is the previous entry's hash ([`GENESIS`] for the first),
//! `seq` is written in decimal, `event_id` is empty for entries about no
//! event, and `body` is the entry's body as canonical JSON
//! ([`canonical_json`]). A store keeps the body exactly as it was hashed, so
//! that checking an entry is hashing its stored text again.

use serde_json::Value;
use sha2::{Digest, Sha256};
use whistle_engine::lifecycle::Transition;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The kind of a journal entry that records a transition of a case.
pub const TRANSITION: &str = "transition";

/// The hash of an entry, from the previous hash and the entry's content.
pub fn chain_hash(
    prev_hash: &str,
    seq: i64,
    event_id: Option<&str>,
    kind: &str,
    body: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(event_id.unwrap_or("").as_bytes());
    h.update(b"\n");
    h.update(kind.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    let mut hex = [0u8; 64];
    // 32 bytes always fit 64 hex digits.
    let _ = hex::encode_to_slice(h.finalize(), &mut hex);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    out.extend(hex.iter().map(|&b| char::from(b)));
    out
}

/// A JSON value as canonical text: no whitespace, object keys sorted by
/// their UTF-8 bytes (at every depth), strings and numbers as `serde_json`
/// writes them. The same value always gives the same text, whatever the
/// order its object keys were built in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            // A map is usually sorted already (serde_json's default map is a
            // BTreeMap); sort only when it is not.
            let sorted = map
                .keys()
                .zip(map.keys().skip(1))
                .all(|(a, b)| a.as_bytes() < b.as_bytes());
            if sorted {
                write_members(map.iter(), out);
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                write_members(entries.into_iter(), out);
            }
            out.push('}');
        }
    }
}

fn write_members<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut String) {
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(k, out);
        out.push(':');
        write_canonical(v, out);
    }
}

/// A JSON string literal, escaped as `serde_json` escapes it.
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The journal (and webhook) body of a transition of event `event_id`: the
/// transition's JSON with an `event_id` member, as canonical JSON.
pub fn transition_body(event_id: &str, t: &Transition) -> Result<String, String> {
    let mut v = serde_json::to_value(t)
        .map_err(|e| format!("a transition of event {event_id:?} does not serialise: {e}"))?;
    match &mut v {
        Value::Object(map) => {
            map.insert("event_id".into(), Value::String(event_id.to_string()));
        }
        _ => {
            return Err(format!(
                "a transition of event {event_id:?} is not a JSON object"
            ));
        }
    }
    Ok(canonical_json(&v))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v: Value = serde_json::from_str(
            r#"{"b":1,"a":{"z":[1,{"y":null,"x":"q\"\n\u0001"}],"c":true},"é":2.5}"#,
        )
        .unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":true,"z":[1,{"x":"q\"\n\u0001","y":null}]},"b":1,"é":2.5}"#
        );
        // The canonical text is valid JSON for the same value.
        let back: Value = serde_json::from_str(&canonical_json(&v)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let all: String = (0u32..0x100)
            .filter_map(char::from_u32)
            .chain(['€', '😀', '\u{2028}'])
            .collect();
        let mut out = String::new();
        write_str(&all, &mut out);
        assert_eq!(out, serde_json::to_string(&all).unwrap());
    }

    #[test]
    fn the_hash_is_the_documented_one() {
        // Computed independently: sha256 of the five parts joined by "\n".
        assert_eq!(
            chain_hash(GENESIS, 1, Some("E1"), "transition", r#"{"a":1}"#),
            "sha256:c89dcf56445bb1713d408bfa723856cfa380e927733be210837a8ad55dcdda7b"
        );
        assert_eq!(
            chain_hash(GENESIS, 12, None, "policy_rollout", "{}"),
            "sha256:18b436cef9cd03185fb907791a9b993263b01b3f26e3628b4495f8359a9c438b"
        );
    }

    #[test]
    fn the_hash_covers_every_part() {
        let h = chain_hash(GENESIS, 1, Some("E1"), "transition", "{}");
        assert!(h.starts_with("sha256:") && h.len() == 71);
        assert_ne!(h, chain_hash(GENESIS, 2, Some("E1"), "transition", "{}"));
        assert_ne!(h, chain_hash(GENESIS, 1, None, "transition", "{}"));
        assert_ne!(
            h,
            chain_hash(GENESIS, 1, Some("E1"), "policy_rollout", "{}")
        );
        assert_ne!(
            h,
            chain_hash(GENESIS, 1, Some("E1"), "transition", "{\"a\":1}")
        );
        assert_ne!(h, chain_hash(&h, 1, Some("E1"), "transition", "{}"));
        assert_eq!(GENESIS.len(), 71);
    }
}

//! The compact JSON of a single-key KV read, written by hand.
//!
//! `GET /v1/kv/<key>` is the hottest read of most Consul workloads. Going through
//! serde, base64's `String` and the HTML-escaping pass cost about 2% of the server's
//! CPU per read; this writer produces the same bytes directly into one buffer.
//! [`crate::response::encode_json`] stays the reference: the tests compare the two.

use base64::Engine;
use rconsul_state::KvEntry;

use crate::response::decimal;

/// `[{"LockIndex":..,"Key":..,"Flags":..,"Value":..,["Session":..,]"CreateIndex":..,"ModifyIndex":..}]`,
/// byte for byte what `encode_json(&[DirEntryJson::from(e)], false)` gives.
pub(crate) fn encode_entry(e: &KvEntry) -> Vec<u8> {
    let value_len = e.value.len().div_ceil(3) * 4;
    let mut out = Vec::with_capacity(112 + e.key.len() + value_len);
    out.extend_from_slice(b"[{\"LockIndex\":");
    write_u64(&mut out, e.lock_index);
    out.extend_from_slice(b",\"Key\":");
    write_str(&mut out, &e.key);
    out.extend_from_slice(b",\"Flags\":");
    write_u64(&mut out, e.flags);
    out.extend_from_slice(b",\"Value\":");
    if e.value.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        out.push(b'"');
        let start = out.len();
        out.resize(start + value_len, 0);
        // The buffer was sized by base64's own formula; a mismatch would be a bug in
        // that arithmetic, so fall back to the allocating encoder rather than panic.
        match base64::engine::general_purpose::STANDARD.encode_slice(&e.value[..], &mut out[start..]) {
            Ok(n) => out.truncate(start + n),
            Err(_) => {
                out.truncate(start);
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(&e.value[..])
                        .as_bytes(),
                );
            }
        }
        out.push(b'"');
    }
    if let Some(session) = &e.session {
        out.extend_from_slice(b",\"Session\":");
        write_str(&mut out, session);
    }
    out.extend_from_slice(b",\"CreateIndex\":");
    write_u64(&mut out, e.create_index);
    out.extend_from_slice(b",\"ModifyIndex\":");
    write_u64(&mut out, e.modify_index);
    out.extend_from_slice(b"}]");
    out
}

/// `n` in decimal.
fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(n, &mut [0; 20]));
}

/// `s` as a JSON string the way the serde path writes it: serde_json's escapes
/// (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX`) plus Go's HTML-safe ones
/// (`<`, `>`, `&`, U+2028, U+2029).
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'<' => Some(b"\\u003c"),
            b'>' => Some(b"\\u003e"),
            b'&' => Some(b"\\u0026"),
            0xE2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) => {
                Some(if bytes[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                })
            }
            _ => None,
        };
        if let Some(escape) = escape {
            out.extend_from_slice(&bytes[plain_from..i]);
            out.extend_from_slice(escape);
            // U+2028/U+2029 are three bytes long.
            i += if b == 0xE2 { 3 } else { 1 };
            plain_from = i;
        } else if b < 0x20 {
            out.extend_from_slice(&bytes[plain_from..i]);
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
            i += 1;
            plain_from = i;
        } else {
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::response::encode_json;
    use crate::routes::kv::DirEntryJson;

    fn entry(key: &str, value: &[u8], session: Option<&str>) -> KvEntry {
        KvEntry {
            lock_index: 3,
            key: key.to_string(),
            flags: u64::MAX,
            value: Arc::from(value),
            session: session.map(str::to_string),
            create_index: 0,
            modify_index: 1_234_567,
        }
    }

    fn reference(e: &KvEntry) -> Vec<u8> {
        encode_json(&[DirEntryJson::from(e)], false)
    }

    #[test]
    fn matches_the_serde_encoding_on_tricky_keys_and_values() {
        let keys = [
            "",
            "app/config",
            "quote\"back\\slash",
            "ctl\u{0}\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}",
            "<script>&amp;</script>",
            "line\u{2028}para\u{2029}end\u{2027}\u{202a}",
            "ünïcödé/日本/🦀",
            "\u{e2}", // "â": starts with the byte 0xC3, not 0xE2
        ];
        let values: [&[u8]; 5] = [
            b"",
            b"v",
            b"hello-world-value",
            &[0, 255, 254, 1, 2],
            &[7u8; 1000],
        ];
        for key in keys {
            for value in values {
                for session in [None, Some("3f2c-<&>")] {
                    let e = entry(key, value, session);
                    assert_eq!(
                        String::from_utf8_lossy(&encode_entry(&e)),
                        String::from_utf8_lossy(&reference(&e)),
                        "key {key:?}, value of {} bytes, session {session:?}",
                        value.len()
                    );
                }
            }
        }
    }

    #[test]
    fn matches_the_serde_encoding_on_generated_keys() {
        // A small deterministic generator over characters that need every kind of
        // escape, mixed with plain ones.
        let alphabet: Vec<char> = "a/Z9 \"\\<>&\u{0}\u{8}\u{c}\n\u{1b}\u{2028}\u{2029}é日🦀"
            .chars()
            .collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            let mut key = String::new();
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 59) as usize;
            for _ in 0..len {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                key.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            let e = entry(&key, key.as_bytes(), None);
            assert_eq!(encode_entry(&e), reference(&e), "key {key:?}");
        }
    }
}

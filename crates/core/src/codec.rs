//! The byte-level pieces every signed message shares: postcard decoding that accepts exactly one value
//! and nothing after it, and the three-part envelope (`bytes, key, signature`) as postcard writes it.
//!
//! Each message module maps the reasons here into its own error type; this module knows no message.

use serde::de::DeserializeOwned;

/// Decodes exactly one `T` from all of `bytes`; the error is a reason naming `what`.
pub fn decode_exact<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| format!("{what}: {e}"))?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(format!("{what}: {} trailing bytes", rest.len()))
    }
}

/// Postcard's unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// The postcard encoding of a struct of three byte strings, written without a copy through serde.
pub fn encode_envelope(parts: [&[u8]; 3]) -> Vec<u8> {
    let mut out = Vec::with_capacity(envelope_len(parts));
    for part in parts {
        put_varint(&mut out, part.len());
        out.extend_from_slice(part);
    }
    out
}

pub fn envelope_len(parts: [&[u8]; 3]) -> usize {
    parts.iter().map(|p| varint_len(p.len()) + p.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_matches_postcard_and_decoding_is_exact() {
        let parts: [&[u8]; 3] = [&[1u8; 200], b"key", b""];
        let by_serde = postcard::to_stdvec(&(parts[0], parts[1], parts[2])).unwrap();
        assert_eq!(encode_envelope(parts), by_serde);
        assert_eq!(envelope_len(parts), by_serde.len());
        let back: (Vec<u8>, Vec<u8>, Vec<u8>) = decode_exact(&by_serde, "envelope").unwrap();
        assert_eq!(back.0, parts[0]);
        let mut longer = by_serde.clone();
        longer.push(0);
        assert_eq!(
            decode_exact::<(Vec<u8>, Vec<u8>, Vec<u8>)>(&longer, "envelope").unwrap_err(),
            "envelope: 1 trailing bytes"
        );
        assert!(decode_exact::<(Vec<u8>, Vec<u8>, Vec<u8>)>(&by_serde[..5], "envelope").is_err());
    }
}

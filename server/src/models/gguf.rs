//! Reads a GGUF file's metadata (the header only, never the tensors): the numbers the KV-cache
//! estimate needs, for a llama.cpp server whose model file is on this host. Works on any
//! `Read`, so tests use bytes; long arrays (the vocabulary) are skipped and only counted.

use std::collections::HashMap;
use std::io::Read;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("not a GGUF file (magic {0:?})")]
    Magic([u8; 4]),
    #[error("GGUF version {0} is not supported (2 and 3 are)")]
    Version(u32),
    #[error("GGUF header damaged: {0}")]
    Damaged(String),
    #[error("reading the GGUF header: {0}")]
    Io(#[from] std::io::Error),
}

/// Arrays longer than this are counted, not kept (a vocabulary has 32k–250k strings).
const KEEP_ARRAY: u64 = 4096;
/// No key, string or array in a sane header is larger; a bigger length means damage.
const MAX_LEN: u64 = 1 << 26;

/// The metadata as `key → value`; a long array becomes `key#len → its length`.
pub fn metadata(r: &mut impl Read) -> Result<HashMap<String, Value>, GgufError> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    if &magic != b"GGUF" {
        return Err(GgufError::Magic(magic));
    }
    let version = u32_le(r)?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version(version));
    }
    let _tensors = u64_le(r)?;
    let count = u64_le(r)?;
    if count > 1 << 20 {
        return Err(GgufError::Damaged(format!("{count} metadata keys")));
    }
    let mut out = HashMap::new();
    for _ in 0..count {
        let key = string(r)?;
        let ty = u32_le(r)?;
        if ty == 9 {
            let elem = u32_le(r)?;
            let len = u64_le(r)?;
            if len > MAX_LEN {
                return Err(GgufError::Damaged(format!("{key}: array of {len}")));
            }
            if len > KEEP_ARRAY {
                for _ in 0..len {
                    value(r, elem)?;
                }
                out.insert(format!("{key}#len"), Value::from(len));
            } else {
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(value(r, elem)?);
                }
                out.insert(key, Value::Array(items));
            }
        } else {
            let v = value(r, ty)?;
            out.insert(key, v);
        }
    }
    Ok(out)
}

fn value(r: &mut impl Read, ty: u32) -> Result<Value, GgufError> {
    Ok(match ty {
        0 => Value::from(byte::<1>(r)?[0]),
        1 => Value::from(byte::<1>(r)?[0] as i8),
        2 => Value::from(u16::from_le_bytes(byte(r)?)),
        3 => Value::from(i16::from_le_bytes(byte(r)?)),
        4 => Value::from(u32_le(r)?),
        5 => Value::from(i32::from_le_bytes(byte(r)?)),
        6 => Value::from(f32::from_le_bytes(byte(r)?) as f64),
        7 => Value::from(byte::<1>(r)?[0] != 0),
        8 => Value::from(string(r)?),
        10 => Value::from(u64_le(r)?),
        11 => Value::from(i64::from_le_bytes(byte(r)?)),
        12 => Value::from(f64::from_le_bytes(byte(r)?)),
        9 => return Err(GgufError::Damaged("nested array".into())),
        t => return Err(GgufError::Damaged(format!("unknown value type {t}"))),
    })
}

fn byte<const N: usize>(r: &mut impl Read) -> Result<[u8; N], GgufError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn u32_le(r: &mut impl Read) -> Result<u32, GgufError> {
    Ok(u32::from_le_bytes(byte(r)?))
}

fn u64_le(r: &mut impl Read) -> Result<u64, GgufError> {
    Ok(u64::from_le_bytes(byte(r)?))
}

fn string(r: &mut impl Read) -> Result<String, GgufError> {
    let len = u64_le(r)?;
    if len > MAX_LEN {
        return Err(GgufError::Damaged(format!("string of {len} bytes")));
    }
    let mut b = vec![0u8; len as usize];
    r.read_exact(&mut b)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend((v.len() as u64).to_le_bytes());
        out.extend(v.as_bytes());
    }

    /// A header written by hand following the GGUF spec (ggml/docs/gguf.md).
    fn header(tokens: u64) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(6u64.to_le_bytes());
        s(&mut b, "general.architecture");
        b.extend(8u32.to_le_bytes());
        s(&mut b, "llama");
        for (k, v) in [
            ("llama.block_count", 30u32),
            ("llama.attention.head_count", 9),
            ("llama.embedding_length", 576),
        ] {
            s(&mut b, k);
            b.extend(4u32.to_le_bytes());
            b.extend(v.to_le_bytes());
        }
        s(&mut b, "llama.attention.head_count_kv");
        b.extend(9u32.to_le_bytes());
        b.extend(4u32.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        b.extend(3u32.to_le_bytes());
        b.extend(3u32.to_le_bytes());
        s(&mut b, "tokenizer.ggml.tokens");
        b.extend(9u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(tokens.to_le_bytes());
        for i in 0..tokens {
            s(&mut b, &format!("t{i}"));
        }
        b
    }

    #[test]
    fn reads_the_estimate_numbers_and_counts_long_arrays() {
        let meta = metadata(&mut std::io::Cursor::new(header(5000))).unwrap();
        assert_eq!(meta["tokenizer.ggml.tokens#len"], 5000);
        let a = crate::models::parse::architecture(&meta).unwrap();
        assert_eq!(
            (a.layers, a.heads, a.kv_heads, a.embedding),
            (30, 9, 3, 576)
        );
        assert_eq!(a.vocab, Some(5000));
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        assert!(matches!(
            metadata(&mut &b"GGML...."[..]),
            Err(GgufError::Magic(_))
        ));
        let mut h = header(3);
        h.truncate(h.len() - 5);
        assert!(matches!(
            metadata(&mut std::io::Cursor::new(h)),
            Err(GgufError::Io(_))
        ));
        let mut h = header(3);
        h[4] = 9;
        assert!(matches!(
            metadata(&mut std::io::Cursor::new(h)),
            Err(GgufError::Version(9))
        ));
    }
}

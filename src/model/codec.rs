//! The byte encoding spans are kept in while they wait in memory: LEB128 numbers, raw ids,
//! and attribute lists whose strings the caller writes (inline, or as ids into a dictionary).
//!
//! Journeys keep their spans this way ([`crate::model::journey::stored`]) and so does the
//! engine's timeline log. The format is private to the process: nothing is written to disk in
//! it, so it may change between versions.

use super::span::{AttrValue, Attribute};

/// Encoded bytes did not decode: a bug, reported instead of panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a kept span did not decode: {0}")]
pub struct DecodeError(pub &'static str);

/// Appends to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// One byte.
    pub fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    /// Raw bytes, length not written.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// An unsigned number in LEB128: small numbers (lengths, counts) take one byte.
    pub fn u64(&mut self, mut v: u64) {
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(low);
                return;
            }
            self.0.push(low | 0x80);
        }
    }

    /// A signed number zig-zagged, so small negative numbers stay short too.
    pub fn i64(&mut self, i: i64) {
        self.u64(((i << 1) ^ (i >> 63)) as u64);
    }

    /// A length or count.
    pub fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    /// A string written inline: its length, then its bytes.
    pub fn str(&mut self, s: &str) {
        self.len(s.len());
        self.raw(s.as_bytes());
    }
}

/// Reads what a [`Writer`] wrote, refusing anything truncated or out of range.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// True when every byte was read.
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or(DecodeError("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// One byte.
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// `N` raw bytes (an id).
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.take(N)?.try_into().map_err(|_| DecodeError("id"))
    }

    /// A LEB128 number. Most are lengths, ids and counts of one byte: that case is the short
    /// path (a seek decodes every number it replays).
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let mut value = 0u64;
        for (i, b) in rest.iter().take(10).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.at += i + 1;
                return Ok(value);
            }
        }
        Err(if rest.len() < 10 { DecodeError("truncated") } else { DecodeError("varint") })
    }

    /// A zig-zagged signed number.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    /// A length or count; one beyond the bytes left is corrupt, since every element takes at
    /// least a byte (so a corrupt length never sizes an allocation).
    pub fn length(&mut self) -> Result<usize, DecodeError> {
        let n = usize::try_from(self.u64()?).map_err(|_| DecodeError("length"))?;
        if n > self.bytes.len() - self.at { Err(DecodeError("length")) } else { Ok(n) }
    }

    /// A string written inline by [`Writer::str`], borrowed.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.length()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError("utf-8"))
    }

    /// A string written inline by [`Writer::str`].
    pub fn string(&mut self) -> Result<String, DecodeError> {
        self.str().map(str::to_owned)
    }
}

/// Writes an attribute list, each key and string value through `put` (which decides how a
/// string is kept).
pub fn write_attributes(out: &mut Writer, attributes: &[Attribute], put: &mut impl FnMut(&mut Writer, &str)) {
    out.len(attributes.len());
    for a in attributes {
        put(out, &a.key);
        write_value(out, &a.value, put);
    }
}

fn write_value(out: &mut Writer, v: &AttrValue, put: &mut impl FnMut(&mut Writer, &str)) {
    match v {
        AttrValue::StringValue(s) => {
            out.byte(0);
            put(out, s);
        }
        AttrValue::BoolValue(b) => {
            out.byte(1);
            out.byte(u8::from(*b));
        }
        AttrValue::IntValue(i) => {
            out.byte(2);
            out.i64(*i);
        }
        AttrValue::DoubleValue(d) => {
            out.byte(3);
            out.raw(&d.to_le_bytes());
        }
        AttrValue::BytesValue(b) => {
            out.byte(4);
            out.len(b.len());
            out.raw(b);
        }
        AttrValue::ArrayValue(items) => {
            out.byte(5);
            out.len(items.len());
            items.iter().for_each(|i| write_value(out, i, put));
        }
        AttrValue::KvlistValue(kv) => {
            out.byte(6);
            write_attributes(out, kv, put);
        }
    }
}

/// Reads what [`write_attributes`] wrote, each string through `get`.
pub fn read_attributes<'a>(
    r: &mut Reader<'a>,
    get: &mut impl FnMut(&mut Reader<'a>) -> Result<String, DecodeError>,
) -> Result<Vec<Attribute>, DecodeError> {
    let mut out = Vec::with_capacity(r.length()?);
    for _ in 0..out.capacity() {
        let key = get(r)?;
        out.push(Attribute { key, value: read_value(r, get)? });
    }
    Ok(out)
}

fn read_value<'a>(
    r: &mut Reader<'a>,
    get: &mut impl FnMut(&mut Reader<'a>) -> Result<String, DecodeError>,
) -> Result<AttrValue, DecodeError> {
    Ok(match r.byte()? {
        0 => AttrValue::StringValue(get(r)?),
        1 => AttrValue::BoolValue(r.byte()? != 0),
        2 => AttrValue::IntValue(r.i64()?),
        3 => AttrValue::DoubleValue(f64::from_le_bytes(r.array()?)),
        4 => {
            let n = r.length()?;
            AttrValue::BytesValue(r.take(n)?.to_vec())
        }
        5 => {
            let mut items = Vec::with_capacity(r.length()?);
            for _ in 0..items.capacity() {
                items.push(read_value(r, get)?);
            }
            AttrValue::ArrayValue(items)
        }
        6 => AttrValue::KvlistValue(read_attributes(r, get)?),
        _ => return Err(DecodeError("value tag")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_at_their_edges() {
        let mut w = Writer::default();
        let unsigned = [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX];
        let signed = [0, -1, 1, -64, 64, i64::MIN, i64::MAX];
        unsigned.iter().for_each(|v| w.u64(*v));
        signed.iter().for_each(|v| w.i64(*v));
        let mut r = Reader::new(&w.0);
        for v in unsigned {
            assert_eq!(r.u64(), Ok(v));
        }
        for v in signed {
            assert_eq!(r.i64(), Ok(v));
        }
        assert!(r.is_done());
        assert_eq!(r.byte(), Err(DecodeError("truncated")));
    }

    #[test]
    fn a_length_past_the_end_is_refused_before_anything_is_sized_by_it() {
        let mut w = Writer::default();
        w.len(1 << 40);
        assert_eq!(Reader::new(&w.0).length(), Err(DecodeError("length")));
        assert_eq!(Reader::new(&w.0).string(), Err(DecodeError("length")));
    }
}

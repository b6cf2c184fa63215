//! A strict JSON reader over bytes that builds nothing: it walks a payload in place, hands
//! out keys and strings as slices of it, and skips whatever its caller does not ask for.
//!
//! Journeys and the findings detectors read a few fields of every message a topic carries.
//! Going through `serde`'s visitors for that cost more than the flow graph's whole work per
//! message (a `Deserializer` per value, a visitor call per token, every number parsed). This
//! reader accepts what `serde_json::from_slice::<serde_json::Value>` accepts (strings valid
//! UTF-8 with paired surrogates, numbers within `f64`, no trailing commas or bytes), except
//! that it has no nesting limit: values it skips are skipped without recursion.

use std::borrow::Cow;

/// A string as it stands in the payload, between its quotes: valid UTF-8, with its escapes
/// checked but not yet decoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStr<'p> {
    raw: &'p [u8],
    escaped: bool,
}

impl<'p> RawStr<'p> {
    /// The string's text, borrowed unless it holds escapes.
    pub(crate) fn text(self) -> Cow<'p, str> {
        // Checked as UTF-8 when read, so the lossy decoding loses nothing and borrows.
        let raw = String::from_utf8_lossy(self.raw);
        if self.escaped { Cow::Owned(unescape(&raw)) } else { raw }
    }

    /// The string's text as bytes: borrowed unless it holds escapes (what keys are compared
    /// and hashed by, without checking the text again).
    pub(crate) fn bytes(self) -> Cow<'p, [u8]> {
        if self.escaped {
            Cow::Owned(unescape(&String::from_utf8_lossy(self.raw)).into_bytes())
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// True when the string's text is `name`.
    pub(crate) fn is(self, name: &str) -> bool {
        if self.escaped { *self.bytes() == *name.as_bytes() } else { self.raw == name.as_bytes() }
    }
}

/// The kind of a JSON value, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Object,
    Array,
}

/// A cursor over a payload.
pub(crate) struct Reader<'p> {
    bytes: &'p [u8],
    at: usize,
}

/// Bytes that end the fast part of a string: the quote, an escape, a control character.
const STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

impl<'p> Reader<'p> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'p [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Only whitespace is left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// The kind of the value that comes next.
    pub(crate) fn next_kind(&mut self) -> Option<Kind> {
        Some(match self.peek()? {
            b'n' => Kind::Null,
            b't' | b'f' => Kind::Bool,
            b'"' => Kind::String,
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'-' | b'0'..=b'9' => Kind::Number,
            _ => return None,
        })
    }

    /// Reads an object, calling `entry` with each key; `entry` must read or skip its value.
    pub(crate) fn object(&mut self, mut entry: impl FnMut(&mut Self, RawStr<'p>) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.closes(b'}')? {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            entry(self, key)?;
            if self.after_item(b'}')? {
                return Some(());
            }
        }
    }

    /// Reads an array, calling `item` for each element while it returns `Some(true)`; the
    /// rest are skipped. `item` must read or skip its element.
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<bool>) -> Option<()> {
        self.expect(b'[')?;
        if self.closes(b']')? {
            return Some(());
        }
        let mut reading = true;
        loop {
            if reading {
                reading = item(self)?;
            } else {
                self.skip_value()?;
            }
            if self.after_item(b']')? {
                return Some(());
            }
        }
    }

    /// True (and consumed) when `close` comes next: an empty container.
    fn closes(&mut self, close: u8) -> Option<bool> {
        let closed = self.peek()? == close;
        if closed {
            self.at += 1;
        }
        Some(closed)
    }

    /// After a member or element: false at a comma (another follows), true when `close` ends
    /// the container; anything else is not JSON.
    fn after_item(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => self.at += 1,
            byte if byte == close => {
                self.at += 1;
                return Some(true);
            }
            _ => return None,
        }
        Some(false)
    }

    /// Reads a string, checked but not decoded.
    pub(crate) fn string(&mut self) -> Option<RawStr<'p>> {
        self.expect(b'"')?;
        let bytes = self.bytes;
        let start = self.at;
        let mut at = start;
        let mut escaped = false;
        // Every byte or-ed together: text that stays ASCII needs no UTF-8 check.
        let mut seen = 0_u8;
        loop {
            let byte = *bytes.get(at)?;
            if !STRING_STOP[usize::from(byte)] {
                seen |= byte;
                at += 1;
                continue;
            }
            match byte {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.at = at + 1;
                    self.escape()?;
                    at = self.at;
                }
                _ => return None,
            }
        }
        let raw = &bytes[start..at];
        if !seen.is_ascii() {
            std::str::from_utf8(raw).ok()?;
        }
        self.at = at + 1;
        Some(RawStr { raw, escaped })
    }

    /// Checks one escape after its backslash: `\uXXXX` surrogates must come in pairs.
    fn escape(&mut self) -> Option<()> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        match byte {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => match self.hex4()? {
                0xD800..=0xDBFF => {
                    let low = self.bytes.get(self.at..self.at + 2)? == b"\\u";
                    self.at += 2;
                    (low && (0xDC00..=0xDFFF).contains(&self.hex4()?)).then_some(())
                }
                0xDC00..=0xDFFF => None,
                _ => Some(()),
            },
            _ => None,
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        self.at += 4;
        digits.iter().try_fold(0, |n, d| Some(n * 16 + char::from(*d).to_digit(16)?))
    }

    /// Reads a number, returning its text; one that would not fit an `f64` is refused, as
    /// `serde_json` refuses it.
    pub(crate) fn number(&mut self) -> Option<&'p str> {
        self.skip_whitespace();
        let start = self.at;
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let digits = match self.bytes.get(self.at)? {
            b'0' => {
                self.at += 1;
                1
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut plain = digits < 20;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            (self.digits() > 0).then_some(())?;
            plain = false;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            (self.digits() > 0).then_some(())?;
            plain = false;
        }
        // The grammar is plain ASCII, so the slice is text.
        let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        if !plain {
            let value: f64 = text.parse().ok()?;
            // Near the top of the range the two parsers may round apart: serde_json decides.
            if !(value.is_finite() && value.abs() < 1e300) {
                serde_json::from_str::<serde_json::Number>(text).ok()?;
            }
        }
        Some(text)
    }

    fn digits(&mut self) -> usize {
        let count = self.bytes.get(self.at..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count());
        self.at += count;
        count
    }

    /// Reads `true`, `false` or `null`.
    pub(crate) fn literal(&mut self) -> Option<Option<bool>> {
        self.skip_whitespace();
        let rest = self.bytes.get(self.at..)?;
        let (value, len) = if rest.starts_with(b"true") {
            (Some(true), 4)
        } else if rest.starts_with(b"false") {
            (Some(false), 5)
        } else if rest.starts_with(b"null") {
            (None, 4)
        } else {
            return None;
        };
        self.at += len;
        Some(value)
    }

    /// Skips one value of any depth, without recursion; returns its kind.
    pub(crate) fn skip_value(&mut self) -> Option<Kind> {
        let kind = self.next_kind()?;
        match kind {
            Kind::Object | Kind::Array => self.skip_nested()?,
            scalar => self.skip_scalar(scalar)?,
        }
        Some(kind)
    }

    /// Skips a string, number, `true`, `false` or `null` of `kind` (`None` for a container).
    pub(crate) fn skip_scalar(&mut self, kind: Kind) -> Option<()> {
        match kind {
            Kind::Null | Kind::Bool => self.literal().map(drop),
            Kind::Number => self.number().map(drop),
            Kind::String => self.string().map(drop),
            Kind::Object | Kind::Array => None,
        }
    }

    /// Skips an object or array, keeping only a stack of what is open.
    fn skip_nested(&mut self) -> Option<()> {
        // `true` for an object (whose next value follows a key), `false` for an array.
        let mut open: Vec<bool> = Vec::new();
        loop {
            // At the start of a value.
            match self.peek()? {
                b'{' | b'[' => {
                    let object = self.bytes[self.at] == b'{';
                    self.at += 1;
                    let close = if object { b'}' } else { b']' };
                    if !self.closes(close)? {
                        open.push(object);
                        if object {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        continue;
                    }
                }
                _ => {
                    let kind = self.next_kind()?;
                    self.skip_scalar(kind)?;
                }
            }
            // After a value: a comma leads to the next one, a bracket closes its container.
            loop {
                let Some(&object) = open.last() else { return Some(()) };
                match (self.peek()?, object) {
                    (b',', _) => {
                        self.at += 1;
                        if object {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.at += 1;
                        open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }
}

/// Decodes a string's escapes; `raw` was checked by [`Reader::string`].
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(slash) = rest.find('\\') {
        out.push_str(&rest[..slash]);
        let bytes = rest.as_bytes();
        let (decoded, used) = match bytes.get(slash + 1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let hex = |at: usize| rest.get(at..at + 4).and_then(|h| u32::from_str_radix(h, 16).ok()).unwrap_or(0);
                let high = hex(slash + 2);
                if (0xD800..0xDC00).contains(&high) {
                    let low = hex(slash + 8);
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                    (char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER), 12)
                } else {
                    (char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER), 6)
                }
            }
            // `"`, `\` and `/` stand for themselves.
            Some(other) => (char::from(*other), 2),
            None => break,
        };
        out.push(decoded);
        rest = rest.get(slash + used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one whole value the way the callers do: skipped, then the end.
    fn accepts(payload: &[u8]) -> bool {
        let mut reader = Reader::new(payload);
        reader.skip_value().is_some() && reader.end().is_some()
    }

    #[test]
    fn accepts_what_serde_json_accepts_and_refuses_what_it_refuses() {
        let cases: [&[u8]; 34] = [
            br#"{"a": [1, -2.5e3, 0, -0, 1E+2, true, false, null, "x", {}, []], "b": {"c": {"d": "e"}}}"#,
            br#"  {"a" : 1 }  "#,
            br#""\ud83d\ude00 \u00e9 \n\t\"\\\/""#,
            "\"caf\u{e9}\"".as_bytes(),
            b"[]",
            b"0",
            b"1e-400",
            b"123456789012345678901234567890",
            b"",
            b"{",
            br#"{"a":}"#,
            br#"{"a":1,}"#,
            br#"[1,]"#,
            br#"[1 2]"#,
            br#"{"a" 1}"#,
            br#"{1: 2}"#,
            b"01",
            b"-",
            b"1.",
            b".5",
            b"+1",
            b"1e",
            b"1e400",
            b"-1e400",
            br#""\ud800""#,
            br#""\udc00""#,
            br#""\ud800\u0041""#,
            br#""\x""#,
            br#""\u12""#,
            b"\"\xff\"",
            b"\"a\nb\"",
            b"tru",
            b"nul",
            br#"{"a":1} {}"#,
        ];
        for payload in cases {
            let by_serde = serde_json::from_slice::<serde_json::Value>(payload).is_ok();
            assert_eq!(accepts(payload), by_serde, "{}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn skips_nesting_deeper_than_any_recursion_would_allow() {
        let deep = format!("{}1{}", "{\"a\":[".repeat(50_000), "]}".repeat(50_000));
        assert!(accepts(deep.as_bytes()));
        let cut = format!("{}1{}", "{\"a\":[".repeat(50_000), "]}".repeat(49_999));
        assert!(!accepts(cut.as_bytes()));
        assert!(!accepts(format!("{}1{}", "[".repeat(10), "}".repeat(10)).as_bytes()), "brackets must match");
    }

    #[test]
    fn strings_decode_as_serde_json_decodes_them() {
        for payload in
            [r#""plain""#, r#""t\u0079pe""#, r#""\ud83d\ude00!""#, r#""a\"b\\c\/d\b\f\n\r\t""#, r#""\u00e9t\u00e9""#]
        {
            let mut reader = Reader::new(payload.as_bytes());
            let read = reader.string().expect("a string");
            let expected: String = serde_json::from_str(payload).expect("json");
            assert_eq!(read.text(), expected);
            assert!(read.is(&expected));
            assert_eq!(matches!(read.text(), Cow::Borrowed(_)), !payload.contains('\\'));
        }
    }

    #[test]
    fn objects_hand_out_each_key_and_arrays_stop_when_asked() {
        let payload = br#"{"a": [1, 2, 3, 4], "b\u0063": "x", "a": null}"#;
        let mut reader = Reader::new(payload);
        let mut keys = Vec::new();
        let mut items = 0;
        reader
            .object(|r, key| {
                keys.push(key.text().into_owned());
                if r.next_kind()? == Kind::Array {
                    return r.array(|r| {
                        r.number()?;
                        items += 1;
                        Some(items < 2)
                    });
                }
                r.skip_value().map(drop)
            })
            .expect("an object");
        assert!(reader.end().is_some());
        assert_eq!(keys, ["a", "bc", "a"]);
        assert_eq!(items, 2, "the rest of the array is skipped once the reader says stop");
    }
}

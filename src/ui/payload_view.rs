//! How the message browser shows a payload: pretty JSON, text, or a hex dump. Display code,
//! so it lives in the UI layer; the model keeps the bytes.

/// How a payload is best shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadView {
    /// Valid JSON, pretty-printed.
    Json(String),
    /// UTF-8 text.
    Text(String),
    /// Anything else: hex and ASCII, 16 bytes a line.
    Binary(String),
}

/// Renders bytes as pretty JSON when they are JSON, text when UTF-8, hex + ASCII otherwise.
pub fn view_payload(bytes: &[u8]) -> PayloadView {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes)
        && (json.is_object() || json.is_array())
        && let Ok(pretty) = serde_json::to_string_pretty(&json)
    {
        return PayloadView::Json(pretty);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => PayloadView::Text(text.to_owned()),
        _ => PayloadView::Binary(hex_dump(bytes)),
    }
}

/// `00000000  7b 22 61 22 ...  |{"a"...|`, 16 bytes a line.
pub fn hex_dump(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _infallible = write!(out, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _infallible = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push(' ');
        out.push('|');
        out.extend(chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }));
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_render_as_json_text_or_hex() {
        assert!(matches!(view_payload(br#"{"a":1}"#), PayloadView::Json(p) if p.contains("\"a\": 1")));
        assert_eq!(view_payload(b"hello"), PayloadView::Text("hello".into()));
        let PayloadView::Binary(dump) = view_payload(&[0, 1, 0xff, b'A']) else { panic!("binary") };
        assert_eq!(dump, format!("00000000  00 01 ff 41 {} |...A|\n", "   ".repeat(12)));
    }
}

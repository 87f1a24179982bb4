//! The data re-serialised as senders do (compact, sorted keys, pretty in
//! three layouts) from a reading of the text that keeps every key and
//! scalar exactly as written: serde_json gives keys decoded, and a sign
//! covers the bytes, so the reading is this module's own.

use std::borrow::Cow;

/// JSON's whitespace.
pub(super) const JSON_WS: [char; 4] = [' ', '\t', '\n', '\r'];

/// Deeper than serde_json accepts (128), so any text it validated reads.
pub(super) const MAX_DEPTH: usize = 160;

/// A JSON value read from text, scalars kept exactly as written.
#[derive(Debug, Clone)]
pub(super) struct Node<'a> {
    /// The value's text as received.
    pub(super) raw: &'a str,
    pub(super) kind: Kind<'a>,
}

#[derive(Debug, Clone)]
pub(super) enum Kind<'a> {
    /// A string (quotes and escapes as written), number or literal.
    Scalar,
    Array(Vec<Node<'a>>),
    /// Keys as written, quotes included.
    Object(Vec<(&'a str, Node<'a>)>),
}

/// Reads one JSON value filling `text` (whitespace around it allowed);
/// `None` for anything else. Meant for text serde_json has validated, but
/// total on any input.
pub(super) fn parse_node(text: &str) -> Option<Node<'_>> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let node = reader.value(0)?;
    reader.skip_ws();
    (reader.pos == reader.bytes.len()).then_some(node)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        let start = self.pos;
        let kind = match self.peek()? {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_ws();
                        let key = self.string()?;
                        self.skip_ws();
                        if self.peek() != Some(b':') {
                            return None;
                        }
                        self.pos += 1;
                        members.push((key, self.value(depth + 1)?));
                        self.skip_ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                Kind::Object(members)
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.skip_ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                Kind::Array(items)
            }
            b'"' => {
                self.string()?;
                Kind::Scalar
            }
            _ => {
                while let Some(b) = self.peek() {
                    if matches!(
                        b,
                        b',' | b':'
                            | b'['
                            | b']'
                            | b'{'
                            | b'}'
                            | b'"'
                            | b' '
                            | b'\t'
                            | b'\n'
                            | b'\r'
                    ) {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return None;
                }
                Kind::Scalar
            }
        };
        Some(Node {
            raw: self.text.get(start..self.pos)?,
            kind,
        })
    }

    /// A string token at `pos`, quotes included.
    fn string(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek()? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return self.text.get(start..self.pos);
                }
                _ => self.pos += 1,
            }
        }
    }
}

/// A string token's value (the token itself if it does not decode).
pub(super) fn decode_string(token: &str) -> Cow<'_, str> {
    match serde_json::from_str::<String>(token) {
        Ok(value) => Cow::Owned(value),
        Err(_) => Cow::Borrowed(token),
    }
}

pub(super) fn write_compact(node: &Node<'_>, out: &mut String) {
    match &node.kind {
        Kind::Scalar => out.push_str(node.raw),
        Kind::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out);
            }
            out.push(']');
        }
        Kind::Object(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(key);
                out.push(':');
                write_compact(value, out);
            }
            out.push('}');
        }
    }
}

/// How a pretty printer lays a value out.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    pub(super) indent: &'static str,
    /// Between a key and its value.
    pub(super) colon: &'static str,
}

/// Pretty-printed as serde_json's `PrettyFormatter` does: one member or item
/// per line, `{}` and `[]` for empty containers.
pub(super) fn write_pretty(node: &Node<'_>, layout: Layout, level: usize, out: &mut String) {
    let newline = |out: &mut String, level: usize| {
        out.push('\n');
        for _ in 0..level {
            out.push_str(layout.indent);
        }
    };
    match &node.kind {
        Kind::Scalar => out.push_str(node.raw),
        Kind::Array(items) if items.is_empty() => out.push_str("[]"),
        Kind::Object(members) if members.is_empty() => out.push_str("{}"),
        Kind::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_pretty(item, layout, level + 1, out);
            }
            newline(out, level);
            out.push(']');
        }
        Kind::Object(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                out.push_str(key);
                out.push_str(layout.colon);
                write_pretty(value, layout, level + 1, out);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

/// `node` with every object's members sorted by key (by the keys' decoded
/// text, as a `BTreeMap<String, _>` orders them; equal keys keep their order).
pub(super) fn sorted<'a>(node: &Node<'a>) -> Node<'a> {
    let kind = match &node.kind {
        Kind::Scalar => Kind::Scalar,
        Kind::Array(items) => Kind::Array(items.iter().map(sorted).collect()),
        Kind::Object(members) => {
            let mut members: Vec<(&'a str, Node<'a>)> =
                members.iter().map(|(k, v)| (*k, sorted(v))).collect();
            members.sort_by_cached_key(|(key, _)| decode_string(key).into_owned());
            Kind::Object(members)
        }
    };
    Node {
        raw: node.raw,
        kind,
    }
}

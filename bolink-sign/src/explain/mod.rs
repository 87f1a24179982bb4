//! Why a sign does not match: the mistakes integrators make, each tried in
//! turn to see whether it reproduces the received sign.
//!
//! A received sign is `UPPER_HEX(MD5(data + "key=" + key))` over the `data`
//! text exactly as sent, in both envelope families (see the crate docs).
//! When it does not match, [`explain`] rebuilds the text the sender may have
//! hashed instead (the data re-serialised, `&key=`, the key's case, the whole
//! envelope, GBK bytes, ...) and reports every [`Mistake`] whose digest equals
//! the received sign; with several keys it also tells which other key signed
//! the message, alone or together with a mistake. Nothing here changes what
//! [`crate::verify`] accepts: this is a diagnosis, for logs and tools.
//!
//! Each cause has a stable id ([`Cause`]'s `Display`), which is what
//! `bolink verify --explain` prints; [`cause_list`] gives every id with its
//! meaning.
//!
//! ```
//! use bolink_sign::explain::{explain, Cause, LabelledKey, Mistake};
//! use bolink_sign::{sign, Key};
//!
//! let key = Key::new("8403A41ED5EF20BC");
//! // The sender signed its data with sorted keys but sent it in another order.
//! let signed = sign(br#"{"a":1,"b":2}"#, &key);
//! let body = format!(r#"{{"data":{{"b":2,"a":1}},"sign":"{signed}"}}"#);
//! let explanation = explain(body.as_bytes(), &[LabelledKey::unlabelled(key)])?;
//! assert!(!explanation.valid);
//! assert_eq!(explanation.causes, [Cause::Mistake(Mistake::SortedKeys)]);
//! assert_eq!(explanation.causes[0].to_string(), "sorted-keys");
//! # Ok::<(), bolink_sign::explain::ExplainError>(())
//! ```

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use md5::{Digest, Md5};

use crate::any::{parse_any, AnyBody, AnyEnvelope};
use crate::error::{EnvelopeError, SignFormatError};
use crate::key::Key;
use crate::newapi::BodyEncoding;
use crate::sign::{sign, Sign};

mod json;
mod text;

use json::{
    decode_string, parse_node, sorted, write_compact, write_pretty, Kind, Layout, Node, JSON_WS,
};
use text::{escape_non_ascii, gbk, json_string, unescape_non_ascii};

/// One way of signing wrongly that [`explain`] tries.
///
/// Every mistake is tried with each key given; [`Mistake::id`] is its stable
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mistake {
    /// The data was signed compact (whitespace between tokens removed) but
    /// sent with whitespace.
    Compact,
    /// The data was signed with its object keys sorted (recursively, compact)
    /// but sent in another order.
    SortedKeys,
    /// The data was signed pretty-printed with two-space indents (serde_json,
    /// Gson; `": "`, `":"` or `" : "` after keys) but sent otherwise.
    Pretty,
    /// As [`Mistake::Pretty`], with four-space indents.
    Pretty4,
    /// As [`Mistake::Pretty`], with tab indents (fastjson's pretty format).
    PrettyTab,
    /// `&key=` was appended instead of `key=`.
    AmpKey,
    /// The key was appended directly, without `key=`.
    NoKeyPrefix,
    /// The key was upper-cased.
    KeyUppercase,
    /// The key was lower-cased.
    KeyLowercase,
    /// The key ended in a newline (`\n` or `\r\n`), as when read from a file.
    KeyTrailingNewline,
    /// The whole envelope was signed instead of `data`: as received, or
    /// without its `sign` member, or with `"sign":""`.
    WholeEnvelope,
    /// The data was signed as a JSON string literal (quoted and escaped, also
    /// with Gson's HTML-safe escapes).
    DataAsString,
    /// The text was hashed as GBK bytes instead of UTF-8 (unmappable
    /// characters as `?`, as Java's `getBytes("GBK")` writes them).
    Gbk,
    /// The data was signed with non-ASCII characters written as `\uXXXX`
    /// escapes (either hex case) but sent with the characters themselves.
    UnicodeEscapes,
    /// The data was signed with raw characters but sent with `\uXXXX`
    /// escapes for them.
    RawUnicode,
    /// The data was signed with a trailing newline (`\n` or `\r\n`) before
    /// `key=`.
    TrailingNewline,
    /// The sign is lower-case hex. bolink-rs accepts either case, but the
    /// platform's servers compare against an upper-cased digest, so they
    /// reject it. Reported alongside whatever else matched (or alone when the
    /// sign is otherwise right), never when nothing reproduces the sign.
    LowercaseHex,
}

impl Mistake {
    /// Every mistake, in the order [`explain`] reports them.
    pub const ALL: [Mistake; 17] = [
        Mistake::Compact,
        Mistake::SortedKeys,
        Mistake::Pretty,
        Mistake::Pretty4,
        Mistake::PrettyTab,
        Mistake::AmpKey,
        Mistake::NoKeyPrefix,
        Mistake::KeyUppercase,
        Mistake::KeyLowercase,
        Mistake::KeyTrailingNewline,
        Mistake::WholeEnvelope,
        Mistake::DataAsString,
        Mistake::Gbk,
        Mistake::UnicodeEscapes,
        Mistake::RawUnicode,
        Mistake::TrailingNewline,
        Mistake::LowercaseHex,
    ];

    /// The stable kebab-case id, e.g. `sorted-keys`.
    pub fn id(self) -> &'static str {
        match self {
            Mistake::Compact => "compact",
            Mistake::SortedKeys => "sorted-keys",
            Mistake::Pretty => "pretty",
            Mistake::Pretty4 => "pretty-4",
            Mistake::PrettyTab => "pretty-tab",
            Mistake::AmpKey => "amp-key",
            Mistake::NoKeyPrefix => "no-key-prefix",
            Mistake::KeyUppercase => "key-uppercase",
            Mistake::KeyLowercase => "key-lowercase",
            Mistake::KeyTrailingNewline => "key-trailing-newline",
            Mistake::WholeEnvelope => "whole-envelope",
            Mistake::DataAsString => "data-as-string",
            Mistake::Gbk => "gbk",
            Mistake::UnicodeEscapes => "unicode-escapes",
            Mistake::RawUnicode => "raw-unicode",
            Mistake::TrailingNewline => "trailing-newline",
            Mistake::LowercaseHex => "lowercase-hex",
        }
    }

    /// What the id means, in one line.
    pub fn meaning(self) -> &'static str {
        match self {
            Mistake::Compact => "data signed compact (no whitespace) but sent with whitespace",
            Mistake::SortedKeys => "data signed with its keys sorted, sent in another order",
            Mistake::Pretty => "data signed pretty-printed, 2-space indents (serde_json, Gson)",
            Mistake::Pretty4 => "data signed pretty-printed, 4-space indents",
            Mistake::PrettyTab => "data signed pretty-printed, tab indents (fastjson)",
            Mistake::AmpKey => "\"&key=\" appended instead of \"key=\"",
            Mistake::NoKeyPrefix => "the key appended directly, without \"key=\"",
            Mistake::KeyUppercase => "the key upper-cased",
            Mistake::KeyLowercase => "the key lower-cased",
            Mistake::KeyTrailingNewline => "the key with a trailing newline (read from a file)",
            Mistake::WholeEnvelope => {
                "the whole envelope signed (as sent, without sign, or with an empty sign)"
            }
            Mistake::DataAsString => "data signed as a JSON string (quoted and escaped)",
            Mistake::Gbk => "the text hashed as GBK bytes instead of UTF-8",
            Mistake::UnicodeEscapes => "data signed with \\uXXXX escapes, sent with raw characters",
            Mistake::RawUnicode => "data signed with raw characters, sent with \\uXXXX escapes",
            Mistake::TrailingNewline => "data signed with a trailing newline (\\n or \\r\\n)",
            Mistake::LowercaseHex => {
                "the sign is lower-case hex; the platform compares upper case (bolink-rs accepts it)"
            }
        }
    }
}

impl fmt::Display for Mistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One finding of [`explain`]. `Display` gives its stable id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// The mistake reproduces the received sign with the first key given.
    /// Id: the mistake's, e.g. `sorted-keys`.
    Mistake(Mistake),
    /// The received sign is that of another of the keys given, labelled
    /// `label`, signed otherwise correctly (`mistake` is `None`, id
    /// `other-key:LABEL`) or with a mistake (id `MISTAKE+other-key:LABEL`,
    /// e.g. `sorted-keys+other-key:ckey`).
    OtherKey {
        /// The label of the key that reproduces the sign.
        label: String,
        /// The mistake made with it, if any.
        mistake: Option<Mistake>,
    },
    /// The sign does not match and nothing tried reproduces it (id `unknown`).
    Unknown,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Mistake(mistake) => f.write_str(mistake.id()),
            Cause::OtherKey {
                label,
                mistake: None,
            } => write!(f, "other-key:{label}"),
            Cause::OtherKey {
                label,
                mistake: Some(mistake),
            } => write!(f, "{}+other-key:{label}", mistake.id()),
            Cause::Unknown => f.write_str("unknown"),
        }
    }
}

/// Every cause id with its meaning, one `  ID  MEANING` line each: the
/// mistakes, the key and catch-all ids, and `malformed-sign` (the id tools
/// print for [`ExplainError::MalformedSign`]).
pub fn cause_list() -> String {
    let mut rows: Vec<(Cow<'static, str>, &'static str)> = Mistake::ALL
        .iter()
        .map(|m| (Cow::Borrowed(m.id()), m.meaning()))
        .collect();
    rows.push((
        Cow::Borrowed("other-key:LABEL"),
        "signed with another of the keys given (--key LABEL=KEY)",
    ));
    rows.push((
        Cow::Borrowed("ID+other-key:LABEL"),
        "mistake ID made with that other key",
    ));
    rows.push((
        Cow::Borrowed("malformed-sign"),
        "the sign is not 32 hex characters: no digest can match it",
    ));
    rows.push((
        Cow::Borrowed("unknown"),
        "nothing tried reproduces the sign",
    ));
    let width = rows.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (id, meaning) in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "  {id:width$}  {meaning}");
    }
    out
}

/// A key with the label that names it in a [`Cause::OtherKey`].
#[derive(Debug, Clone)]
pub struct LabelledKey {
    /// How causes name this key, e.g. `ckey`.
    pub label: String,
    /// The key.
    pub key: Key,
}

impl LabelledKey {
    /// A key with a label.
    pub fn new(label: impl Into<String>, key: Key) -> Self {
        LabelledKey {
            label: label.into(),
            key,
        }
    }

    /// A key labelled `1`, for a caller with a single key (the first key is
    /// never named in a cause).
    pub fn unlabelled(key: Key) -> Self {
        LabelledKey::new("1", key)
    }
}

/// Which envelope the message came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `{"service_name","sign","token","data"}`.
    SdkHttp,
    /// `{"data","sign"[,"union_id"]}`.
    NewApi,
}

impl Family {
    /// The family of a parsed envelope.
    pub fn of(envelope: &AnyEnvelope<'_>) -> Family {
        match envelope {
            AnyEnvelope::SdkHttp(_) => Family::SdkHttp,
            AnyEnvelope::NewApi(_) => Family::NewApi,
        }
    }

    /// `sdk-http` or `newapi`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::SdkHttp => "sdk-http",
            Family::NewApi => "newapi",
        }
    }

    /// Whether the platform's side of this family expects an upper-case
    /// sign. True for both: the SDK servers seen in public code compare with
    /// `MD5(..).toUpperCase()`, and the new API's pages say "MD5 并转为大写".
    pub fn requires_uppercase(self) -> bool {
        match self {
            Family::SdkHttp | Family::NewApi => true,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`explain`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// The envelope family.
    pub family: Family,
    /// How the body carried the envelope.
    pub encoding: BodyEncoding,
    /// Whether the sign matches the data and the first key, as
    /// [`crate::verify`] decides (either hex case).
    pub valid: bool,
    /// The correct sign of the received data with the first key. Never send
    /// it to the peer (see [`crate::VerifyError::Mismatch`]).
    pub expected: Sign,
    /// Every cause that reproduces the sign, in [`Mistake::ALL`] order, the
    /// first key's before the other keys'. Empty when the sign is valid and
    /// upper case; never empty when it is not valid ([`Cause::Unknown`] when
    /// nothing reproduces it).
    pub causes: Vec<Cause>,
}

impl Explanation {
    /// The causes' ids, as `bolink verify --explain` prints them.
    pub fn cause_ids(&self) -> Vec<String> {
        self.causes.iter().map(ToString::to_string).collect()
    }
}

/// Why [`explain`] could not look for causes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// The body is not an envelope of either family.
    #[error("not an envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The received sign is not 32 hex characters, so no digest can
    /// reproduce it (tools print this as the cause `malformed-sign`).
    #[error("malformed sign: {0}")]
    MalformedSign(#[from] SignFormatError),
    /// No key was given.
    #[error("no key given")]
    NoKey,
}

/// Reads `body` as [`crate::parse_any`] does and explains its sign.
///
/// The first of `keys` is the one the message should be signed with; the
/// others are only tried as causes ([`Cause::OtherKey`]).
///
/// # Errors
/// [`ExplainError::Envelope`] when the body is not an envelope,
/// [`ExplainError::MalformedSign`] when its sign is not 32 hex characters,
/// [`ExplainError::NoKey`] when `keys` is empty. No input panics.
pub fn explain(body: &[u8], keys: &[LabelledKey]) -> Result<Explanation, ExplainError> {
    let body = parse_any(body)?;
    explain_parsed(&body, keys)
}

/// As [`explain`], for a body already read by [`crate::parse_any`].
///
/// # Errors
/// [`ExplainError::MalformedSign`] and [`ExplainError::NoKey`], as in
/// [`explain`].
pub fn explain_parsed(
    body: &AnyBody<'_>,
    keys: &[LabelledKey],
) -> Result<Explanation, ExplainError> {
    let (first, others) = keys.split_first().ok_or(ExplainError::NoKey)?;
    let envelope = body.envelope();
    let received_text = envelope.sign();
    let received: Sign = received_text.parse()?;
    let family = Family::of(&envelope);
    let data = match &envelope {
        AnyEnvelope::SdkHttp(env) => env.data.get(),
        AnyEnvelope::NewApi(env) => env.data.get(),
    };
    let expected = sign(data.as_bytes(), &first.key);
    let valid = expected == received;
    let mut causes = Vec::new();
    if !valid {
        let candidates = candidates(data, std::str::from_utf8(body.json()).ok());
        for candidate in &candidates {
            if candidate.digest(first.key.as_str()) == Some(received) {
                push_new(&mut causes, Cause::Mistake(candidate.mistake));
            }
        }
        for other in others {
            if sign(data.as_bytes(), &other.key) == received {
                push_new(
                    &mut causes,
                    Cause::OtherKey {
                        label: other.label.clone(),
                        mistake: None,
                    },
                );
            }
            for candidate in &candidates {
                if candidate.digest(other.key.as_str()) == Some(received) {
                    push_new(
                        &mut causes,
                        Cause::OtherKey {
                            label: other.label.clone(),
                            mistake: Some(candidate.mistake),
                        },
                    );
                }
            }
        }
    }
    let reproduced = valid || !causes.is_empty();
    if reproduced
        && family.requires_uppercase()
        && received_text.bytes().any(|b| b.is_ascii_lowercase())
    {
        causes.push(Cause::Mistake(Mistake::LowercaseHex));
    }
    if !reproduced {
        causes.push(Cause::Unknown);
    }
    Ok(Explanation {
        family,
        encoding: body.encoding(),
        valid,
        expected,
        causes,
    })
}

fn push_new(causes: &mut Vec<Cause>, cause: Cause) {
    if !causes.contains(&cause) {
        causes.push(cause);
    }
}

/// What follows the text in the hashed bytes.
#[derive(Debug, Clone, Copy)]
enum Suffix {
    /// `key=` + key: the right rule.
    Key,
    /// `&key=` + key.
    AmpKey,
    /// The key alone.
    BareKey,
    /// `key=` + the key upper-cased.
    KeyUpper,
    /// `key=` + the key lower-cased.
    KeyLower,
    /// `key=` + key + this newline.
    KeyThen(&'static str),
    /// `key=` + key, the whole text encoded as GBK.
    Gbk,
}

/// A text the sender may have hashed instead of the right one.
struct Candidate<'a> {
    mistake: Mistake,
    text: Cow<'a, str>,
    suffix: Suffix,
}

impl Candidate<'_> {
    /// The sign this candidate gives with `key`; `None` when, for this key,
    /// it is the same bytes as the right rule (nothing to report).
    fn digest(&self, key: &str) -> Option<Sign> {
        let text = self.text.as_bytes();
        let mut md5 = Md5::new();
        match self.suffix {
            Suffix::Key => md5_parts(&mut md5, &[text, b"key=", key.as_bytes()]),
            Suffix::AmpKey => md5_parts(&mut md5, &[text, b"&key=", key.as_bytes()]),
            Suffix::BareKey => md5_parts(&mut md5, &[text, key.as_bytes()]),
            Suffix::KeyUpper | Suffix::KeyLower => {
                let changed = match self.suffix {
                    Suffix::KeyUpper => key.to_uppercase(),
                    _ => key.to_lowercase(),
                };
                if changed == key {
                    return None;
                }
                md5_parts(&mut md5, &[text, b"key=", changed.as_bytes()]);
            }
            Suffix::KeyThen(newline) => {
                md5_parts(
                    &mut md5,
                    &[text, b"key=", key.as_bytes(), newline.as_bytes()],
                );
            }
            Suffix::Gbk => {
                let whole = format!("{}key={key}", self.text);
                if whole.is_ascii() {
                    return None;
                }
                md5.update(gbk(&whole));
            }
        }
        Some(Sign::from_bytes(md5.finalize().into()))
    }
}

fn md5_parts(md5: &mut Md5, parts: &[&[u8]]) {
    for part in parts {
        md5.update(part);
    }
}

/// Every candidate for `data` (the data text as received) and `envelope`
/// (the envelope JSON, when it is text).
fn candidates<'a>(data: &'a str, envelope: Option<&str>) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    let mut text = |mistake, text: String| {
        if text != data {
            out.push(Candidate {
                mistake,
                text: Cow::Owned(text),
                suffix: Suffix::Key,
            });
        }
    };
    if let Some(node) = parse_node(data) {
        let mut compact = String::with_capacity(data.len());
        write_compact(&node, &mut compact);
        text(Mistake::Compact, compact);
        let mut sorted_text = String::with_capacity(data.len());
        write_compact(&sorted(&node), &mut sorted_text);
        text(Mistake::SortedKeys, sorted_text);
        for (mistake, indent) in [
            (Mistake::Pretty, "  "),
            (Mistake::Pretty4, "    "),
            (Mistake::PrettyTab, "\t"),
        ] {
            for colon in [": ", ":", " : "] {
                let mut pretty = String::with_capacity(data.len() * 2);
                write_pretty(&node, Layout { indent, colon }, 0, &mut pretty);
                text(mistake, pretty);
            }
        }
    }
    if let Some(envelope) = envelope {
        for variant in envelope_variants(envelope) {
            text(Mistake::WholeEnvelope, variant);
        }
    }
    text(Mistake::DataAsString, json_string(data, false));
    text(Mistake::DataAsString, json_string(data, true));
    for upper in [false, true] {
        if let Some(escaped) = escape_non_ascii(data, upper) {
            text(Mistake::UnicodeEscapes, escaped);
        }
    }
    if let Some(raw) = unescape_non_ascii(data) {
        text(Mistake::RawUnicode, raw);
    }
    for newline in ["\n", "\r\n"] {
        text(Mistake::TrailingNewline, format!("{data}{newline}"));
    }
    for (mistake, suffix) in [
        (Mistake::AmpKey, Suffix::AmpKey),
        (Mistake::NoKeyPrefix, Suffix::BareKey),
        (Mistake::KeyUppercase, Suffix::KeyUpper),
        (Mistake::KeyLowercase, Suffix::KeyLower),
        (Mistake::KeyTrailingNewline, Suffix::KeyThen("\n")),
        (Mistake::KeyTrailingNewline, Suffix::KeyThen("\r\n")),
        (Mistake::Gbk, Suffix::Gbk),
    ] {
        out.push(Candidate {
            mistake,
            text: Cow::Borrowed(data),
            suffix,
        });
    }
    // Report in Mistake::ALL order whatever order they were built in.
    out.sort_by_key(|c| Mistake::ALL.iter().position(|m| *m == c.mistake));
    out
}

/// The envelope texts a sender may have signed: as received, and rebuilt
/// compact at the top level without its sign or with `"sign":""`, the
/// values kept as received or compacted.
fn envelope_variants(envelope: &str) -> Vec<String> {
    let trimmed = envelope.trim_matches(JSON_WS);
    let mut out = vec![trimmed.to_owned()];
    let Some(Node {
        kind: Kind::Object(members),
        ..
    }) = parse_node(trimmed)
    else {
        return out;
    };
    for compact_values in [false, true] {
        for drop_sign in [true, false] {
            let mut text = String::with_capacity(trimmed.len());
            text.push('{');
            let mut first = true;
            for (key, value) in &members {
                let is_sign = decode_string(key) == "sign";
                if is_sign && drop_sign {
                    continue;
                }
                if !first {
                    text.push(',');
                }
                first = false;
                text.push_str(key);
                text.push(':');
                if is_sign {
                    text.push_str("\"\"");
                } else if compact_values {
                    write_compact(value, &mut text);
                } else {
                    text.push_str(value.raw);
                }
            }
            text.push('}');
            if !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;

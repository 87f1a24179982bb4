//! Error types: one per stage (sign text, verification, envelope parsing) so
//! callers can tell "the peer sent garbage" from "the peer signed wrongly".

use crate::sign::Sign;

/// A received sign that is not 32 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignFormatError {
    /// The sign does not have exactly 32 characters.
    #[error("sign must be 32 hex characters, got {len}")]
    WrongLength {
        /// Number of characters received.
        len: usize,
    },
    /// The sign has the right length but a character that is not a hex digit.
    #[error("sign has non-hex character {ch:?} at position {position}")]
    InvalidChar {
        /// Zero-based character index of the first offending character.
        position: usize,
        /// The offending character.
        ch: char,
    },
}

/// Why a signature check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The received sign is not 32 hex characters, so it was not compared.
    #[error("malformed sign: {0}")]
    MalformedSign(#[from] SignFormatError),
    /// The received sign is well formed but does not match the data and key.
    ///
    /// `expected` is the correct sign of the received data: useful when
    /// debugging a key or encoding problem locally, but never send it back to
    /// the peer (it would let anyone forge a sign). For that reason the
    /// `Display` text of this variant does not include it.
    #[error("sign does not match the data and key")]
    Mismatch {
        /// The sign computed over the received data with the local key.
        expected: Sign,
    },
}

/// Why a body could not be read as a Bolink envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is empty or only whitespace.
    #[error("body is empty")]
    Empty,
    /// The body is not well-formed JSON (including truncated JSON and invalid
    /// UTF-8). `line` and `column` are 1-based, as `serde_json` reports them;
    /// for a truncated body they point at its last character.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// Column of the error on that line (1-based byte offset).
        column: usize,
        /// What the parser found wrong, without the position.
        message: String,
    },
    /// The body is valid JSON but not an object (array, string, number, ...).
    #[error("envelope is not a JSON object")]
    NotAnObject,
    /// A required top-level field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A top-level field has the wrong JSON type.
    #[error("field `{field}` must be a {expected}")]
    WrongType {
        /// The field name.
        field: &'static str,
        /// The JSON type the field must have.
        expected: &'static str,
    },
    /// The `data` field is present but not a JSON object.
    #[error("field `data` must be a JSON object")]
    DataNotObject,
    /// The body does not start with `{` and is not valid base64 either.
    /// Offsets in `message` count base64 characters with whitespace removed.
    #[error("body is neither JSON nor valid base64: {message}")]
    Base64 {
        /// What the base64 decoder found wrong.
        message: String,
    },
    /// A top-level key appears twice. Rejected because two readers could
    /// otherwise disagree on which value was signed.
    #[error("duplicate field `{0}`")]
    DuplicateField(String),
}

impl EnvelopeError {
    /// Converts a serde_json error, keeping its position apart from its text.
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        let (line, column) = (err.line(), err.column());
        let full = err.to_string();
        // serde_json appends " at line L column C" to every positioned message;
        // strip it so the position is not printed twice.
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        EnvelopeError::Json {
            line,
            column,
            message,
        }
    }
}

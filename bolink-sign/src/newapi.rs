//! The new platform API envelope: `{"data":{...},"sign":"..."}`, sometimes
//! with an unsigned top-level `"union_id"`.
//!
//! On the wire the envelope is either sent as JSON or as base64 of that JSON,
//! depending on the deployment; [`decode_body`] tells the two apart.

use std::borrow::Cow;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde_json::value::RawValue;

use crate::error::{EnvelopeError, VerifyError};
use crate::key::Key;
use crate::{json_out, object, sign};

/// How an HTTP body carries the envelope JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BodyEncoding {
    /// The envelope JSON as is.
    #[default]
    Json,
    /// Standard-alphabet base64 of the envelope JSON (padded when built).
    Base64,
}

/// Lenient decoder: Java encoders may drop the padding, so accept it either
/// way (whitespace is removed before decoding).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Turns an HTTP body into envelope JSON, detecting the encoding.
///
/// A body whose first non-whitespace byte is `{` is JSON and is returned
/// borrowed, unchanged. Anything else is taken as standard base64; padding is
/// optional and ASCII whitespace anywhere is skipped (Java's MIME encoder
/// breaks lines every 76 characters).
///
/// # Errors
/// [`EnvelopeError::Empty`] for an empty or all-whitespace body,
/// [`EnvelopeError::Base64`] when a non-JSON body is not valid base64.
///
/// ```
/// use bolink_sign::newapi::{decode_body, BodyEncoding};
/// let (json, enc) = decode_body(b"eyJkYXRhIjp7fX0=")?;
/// assert_eq!((&*json, enc), (&b"{\"data\":{}}"[..], BodyEncoding::Base64));
/// let (json, enc) = decode_body(b" {\"data\":{}}")?;
/// assert_eq!((&*json, enc), (&b" {\"data\":{}}"[..], BodyEncoding::Json));
/// # Ok::<(), bolink_sign::EnvelopeError>(())
/// ```
pub fn decode_body(body: &[u8]) -> Result<(Cow<'_, [u8]>, BodyEncoding), EnvelopeError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(EnvelopeError::Empty),
        Some(b'{') => Ok((Cow::Borrowed(body), BodyEncoding::Json)),
        Some(_) => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let json = LENIENT
                .decode(&compact)
                .map_err(|e| EnvelopeError::Base64 {
                    message: e.to_string(),
                })?;
            Ok((Cow::Owned(json), BodyEncoding::Base64))
        }
    }
}

/// A parsed new-API envelope, borrowing from the decoded JSON.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The `data` object exactly as received.
    pub data: &'a RawValue,
    /// The sign as received (not yet checked; see [`Envelope::verify`]).
    pub sign: Cow<'a, str>,
    /// The top-level `union_id` as raw JSON (a number or a string), when
    /// present and not `null`. It is not covered by the sign.
    pub union_id: Option<&'a RawValue>,
    /// The other top-level keys, in the order received, each with its raw
    /// JSON value: not signed and not checked, but kept for whoever answers
    /// or relays the message.
    pub extra: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Envelope<'a> {
    /// Parses envelope JSON (after [`decode_body`] for a base64 body).
    /// Other top-level fields are kept in
    /// [`Envelope::extra`]; repeated keys are rejected.
    ///
    /// # Errors
    /// [`EnvelopeError::Empty`], [`EnvelopeError::Json`],
    /// [`EnvelopeError::NotAnObject`], [`EnvelopeError::DuplicateField`],
    /// [`EnvelopeError::MissingField`] (`data`, `sign`),
    /// [`EnvelopeError::WrongType`] (`sign` not a string, `union_id` neither
    /// number nor string) and [`EnvelopeError::DataNotObject`].
    ///
    /// ```
    /// use bolink_sign::newapi::{build, decode_body, BodyEncoding, Envelope};
    /// use bolink_sign::Key;
    /// let key = Key::new("secret");
    /// let body = build(r#"{"park_id":"21835"}"#, &key, Some(200208), BodyEncoding::Base64)?;
    /// let (json, _) = decode_body(&body)?;
    /// let env = Envelope::parse(&json)?;
    /// assert_eq!(env.data_bytes(), br#"{"park_id":"21835"}"#);
    /// assert_eq!(env.union_id.map(|u| u.get()), Some("200208"));
    /// env.verify(&key)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(json: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
        from_fields(object::parse(json)?)
    }

    /// The exact bytes of `data` as received: what the sign covers.
    pub fn data_bytes(&self) -> &'a [u8] {
        self.data.get().as_bytes()
    }

    /// Checks the received sign against `data_bytes()` and `key`.
    ///
    /// # Errors
    /// See [`crate::verify`].
    pub fn verify(&self, key: &Key) -> Result<(), VerifyError> {
        sign::verify(self.data_bytes(), &self.sign, key)
    }
}

/// Builds from already-collected top-level fields (shared with
/// [`crate::parse_any`]).
pub(crate) fn from_fields(fields: object::TopLevel<'_>) -> Result<Envelope<'_>, EnvelopeError> {
    let data = object::required_data(fields.data)?;
    let sign = object::required_str(fields.sign, "sign")?;
    let union_id = match fields.union_id {
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => {
            // A number starts with a digit or '-', a string with a quote.
            let first = raw.get().bytes().next();
            if !matches!(first, Some(b'"' | b'-' | b'0'..=b'9')) {
                return Err(EnvelopeError::WrongType {
                    field: "union_id",
                    expected: "number or string",
                });
            }
            Some(raw)
        }
        None => None,
    };
    Ok(Envelope {
        data,
        sign,
        union_id,
        extra: fields.extra,
    })
}

/// Builds a new-API body: signs `data_json`, embeds it verbatim, adds
/// `union_id` as a JSON number when given, and encodes the result.
///
/// Output is `{"data":...,"sign":"...","union_id":N}`; with
/// [`BodyEncoding::Base64`] it is then standard padded base64 on one line.
/// Whitespace around the object in `data_json` is dropped, as in
/// [`crate::sdk_http::build`].
///
/// # Errors
/// [`EnvelopeError::Json`] when `data_json` is not valid JSON,
/// [`EnvelopeError::DataNotObject`] when it is JSON but not an object.
pub fn build(
    data_json: &str,
    key: &Key,
    union_id: Option<i64>,
    encoding: BodyEncoding,
) -> Result<Vec<u8>, EnvelopeError> {
    let data = json_out::checked_data(data_json)?;
    let sign = sign::sign(data.as_bytes(), key);
    let mut out = Vec::with_capacity(data.len() + 80);
    out.extend_from_slice(b"{\"data\":");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b",\"sign\":\"");
    out.extend_from_slice(&sign.as_hex());
    out.push(b'"');
    if let Some(union_id) = union_id {
        out.extend_from_slice(b",\"union_id\":");
        out.extend_from_slice(union_id.to_string().as_bytes());
    }
    out.push(b'}');
    Ok(match encoding {
        BodyEncoding::Json => out,
        BodyEncoding::Base64 => STANDARD.encode(&out).into_bytes(),
    })
}

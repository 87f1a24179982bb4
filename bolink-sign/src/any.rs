//! Reading a body without knowing which envelope it is, for tools (such as
//! the CLI) that accept both.

use std::borrow::Cow;

use crate::error::{EnvelopeError, VerifyError};
use crate::key::Key;
use crate::newapi::{self, BodyEncoding};
use crate::{object, sdk_http};

/// Either envelope, borrowing from an [`AnyBody`].
#[derive(Debug, Clone)]
pub enum AnyEnvelope<'a> {
    /// The body's top-level object has a `service_name` field.
    SdkHttp(sdk_http::Envelope<'a>),
    /// Anything else: the new platform API envelope.
    NewApi(newapi::Envelope<'a>),
}

impl<'a> AnyEnvelope<'a> {
    /// The exact bytes of `data` as received.
    pub fn data_bytes(&self) -> &'a [u8] {
        match self {
            AnyEnvelope::SdkHttp(env) => env.data_bytes(),
            AnyEnvelope::NewApi(env) => env.data_bytes(),
        }
    }

    /// The sign as received.
    pub fn sign(&self) -> &str {
        match self {
            AnyEnvelope::SdkHttp(env) => &env.sign,
            AnyEnvelope::NewApi(env) => &env.sign,
        }
    }

    /// Checks the received sign against the data and `key`.
    ///
    /// # Errors
    /// See [`crate::verify`].
    pub fn verify(&self, key: &Key) -> Result<(), VerifyError> {
        match self {
            AnyEnvelope::SdkHttp(env) => env.verify(key),
            AnyEnvelope::NewApi(env) => env.verify(key),
        }
    }
}

/// A body that [`parse_any`] has decoded and checked. It owns the decoded
/// JSON when the body was base64 (an envelope cannot borrow from a buffer
/// created inside the parsing call), and lends envelopes out of it.
#[derive(Debug, Clone)]
pub struct AnyBody<'b> {
    json: Cow<'b, [u8]>,
    encoding: BodyEncoding,
}

impl<'b> AnyBody<'b> {
    /// The envelope, borrowed from this body.
    pub fn envelope(&self) -> AnyEnvelope<'_> {
        // parse_any has already parsed these very bytes successfully, and
        // parsing is a pure function of the bytes, so this cannot fail.
        // Re-parsing is the price of handing out a borrowed envelope without
        // a self-referential struct.
        envelope_of(&self.json).expect("AnyBody holds JSON that parse_any already accepted")
    }

    /// How the body carried the envelope.
    pub fn encoding(&self) -> BodyEncoding {
        self.encoding
    }

    /// The envelope JSON (decoded when the body was base64).
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// Takes the envelope JSON out.
    pub fn into_json(self) -> Cow<'b, [u8]> {
        self.json
    }

    /// Shorthand for `self.envelope().verify(key)`.
    ///
    /// # Errors
    /// See [`crate::verify`].
    pub fn verify(&self, key: &Key) -> Result<(), VerifyError> {
        self.envelope().verify(key)
    }
}

/// Decodes and parses a body of either envelope kind.
///
/// The body is decoded as in [`newapi::decode_body`] (JSON when it starts
/// with `{`, base64 otherwise). If the top-level object has `service_name`
/// it is read as an SDK-HTTP envelope, otherwise as a new-API one. Every
/// error is reported here, so [`AnyBody::envelope`] cannot fail afterwards.
///
/// # Errors
/// Any [`EnvelopeError`] that [`newapi::decode_body`] or the chosen
/// envelope's `parse` returns.
///
/// ```
/// use bolink_sign::{newapi, parse_any, sdk_http, AnyEnvelope, Key};
/// let key = Key::new("secret");
/// let bodies = [
///     sdk_http::build("query", Some("tok"), r#"{"a":1}"#, &key)?,
///     newapi::build(r#"{"a":1}"#, &key, None, newapi::BodyEncoding::Base64)?,
/// ];
/// for bytes in &bodies {
///     let body = parse_any(bytes)?;
///     match body.envelope() {
///         AnyEnvelope::SdkHttp(env) => assert_eq!(env.service_name, "query"),
///         AnyEnvelope::NewApi(env) => assert!(env.union_id.is_none()),
///     }
///     body.verify(&key)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_any(body: &[u8]) -> Result<AnyBody<'_>, EnvelopeError> {
    let (json, encoding) = newapi::decode_body(body)?;
    envelope_of(&json)?;
    Ok(AnyBody { json, encoding })
}

fn envelope_of(json: &[u8]) -> Result<AnyEnvelope<'_>, EnvelopeError> {
    let fields = object::parse(json)?;
    if fields.service_name.is_some() {
        sdk_http::from_fields(fields).map(AnyEnvelope::SdkHttp)
    } else {
        newapi::from_fields(fields).map(AnyEnvelope::NewApi)
    }
}

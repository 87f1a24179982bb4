//! The SDK-HTTP envelope:
//! `{"service_name":"...","sign":"...","token":"...","data":{...}}`.
//!
//! `token` is absent on the `login` message (it is what login returns).
//! `data` is an embedded JSON object, and the sign covers its exact bytes.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::error::{EnvelopeError, VerifyError};
use crate::key::Key;
use crate::{json_out, object, sign};

/// A parsed SDK-HTTP message, borrowing from the body it was read from.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The interface name, e.g. `login`.
    pub service_name: Cow<'a, str>,
    /// The sign as received (not yet checked; see [`Envelope::verify`]).
    pub sign: Cow<'a, str>,
    /// The session token; `None` on `login` (a JSON `null` also reads as `None`).
    pub token: Option<Cow<'a, str>>,
    /// The `data` object exactly as received.
    pub data: &'a RawValue,
    /// The other top-level keys, in the order received, each with its raw
    /// JSON value: not signed and not checked, but kept for whoever answers
    /// or relays the message (the platform's TCP relay adds `msg_id`,
    /// `messageId`, `tcpTopic`, `server_ip`, `client_ip`).
    pub extra: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Envelope<'a> {
    /// Parses a body. Other top-level fields are kept in
    /// [`Envelope::extra`]; repeated keys are rejected.
    ///
    /// # Errors
    /// [`EnvelopeError::Empty`], [`EnvelopeError::Json`],
    /// [`EnvelopeError::NotAnObject`], [`EnvelopeError::DuplicateField`],
    /// [`EnvelopeError::MissingField`] (`service_name`, `sign`, `data`),
    /// [`EnvelopeError::WrongType`] (`service_name`, `sign` or `token` not a
    /// string) and [`EnvelopeError::DataNotObject`].
    ///
    /// ```
    /// use bolink_sign::{sdk_http::Envelope, Key};
    /// let body = br#"{"service_name":"login","sign":"CB649425CB5548A375099103AB04CC1E","data":{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}}"#;
    /// let env = Envelope::parse(body)?;
    /// assert_eq!(env.service_name, "login");
    /// assert!(env.token.is_none());
    /// env.verify(&Key::new("8403A41ED5EF20BC"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(body: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
        from_fields(object::parse(body)?)
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
/// [`crate::parse_any`], which reads the fields once to pick the kind).
pub(crate) fn from_fields(fields: object::TopLevel<'_>) -> Result<Envelope<'_>, EnvelopeError> {
    let extra = fields.extra;
    let service_name = object::required_str(fields.service_name, "service_name")?;
    let sign = object::required_str(fields.sign, "sign")?;
    let data = object::required_data(fields.data)?;
    let token = object::optional_str(fields.token, "token")?;
    Ok(Envelope {
        service_name,
        sign,
        token,
        data,
        extra,
    })
}

/// Builds an SDK-HTTP body: signs `data_json` and embeds it verbatim.
///
/// Fields are written in the platform's order (`service_name`, `sign`,
/// `token`, `data`); `token` is left out when `None`. Whitespace around the
/// object in `data_json` is dropped (a receiver never sees it as part of
/// `data`); everything between the braces is kept byte for byte.
///
/// # Errors
/// [`EnvelopeError::Json`] when `data_json` is not valid JSON,
/// [`EnvelopeError::DataNotObject`] when it is JSON but not an object.
///
/// ```
/// use bolink_sign::{sdk_http, Key};
/// let data = r#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
/// let body = sdk_http::build("login", None, data, &Key::new("8403A41ED5EF20BC"))?;
/// assert_eq!(
///     String::from_utf8(body)?,
///     format!(r#"{{"service_name":"login","sign":"CB649425CB5548A375099103AB04CC1E","data":{data}}}"#)
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build(
    service_name: &str,
    token: Option<&str>,
    data_json: &str,
    key: &Key,
) -> Result<Vec<u8>, EnvelopeError> {
    let data = json_out::checked_data(data_json)?;
    let sign = sign::sign(data.as_bytes(), key);
    let mut out = Vec::with_capacity(data.len() + service_name.len() + 96);
    out.extend_from_slice(b"{\"service_name\":");
    json_out::push_str(&mut out, service_name);
    out.extend_from_slice(b",\"sign\":\"");
    out.extend_from_slice(&sign.as_hex());
    out.push(b'"');
    if let Some(token) = token {
        out.extend_from_slice(b",\"token\":");
        json_out::push_str(&mut out, token);
    }
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data.as_bytes());
    out.push(b'}');
    Ok(out)
}

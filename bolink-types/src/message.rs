//! The traits every message implements, and decoding from bytes.

use std::fmt;
use std::str::FromStr;

use serde::de::MapAccess;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::report::{Report, Slip, ViolationKind};
use crate::schema::ObjectSchema;
use crate::wire::{read_object, Read};

/// A message or a nested object of one; implemented by `#[derive(Message)]`.
pub trait Object: Sized + Serialize + 'static {
    /// The static description of the fields and rules.
    fn schema() -> &'static ObjectSchema;

    /// Reads the fields of one JSON object, recording every violation in
    /// `ctx` (missing and duplicate keys, wrong types, lengths, rules).
    fn read_fields<'de, A: MapAccess<'de>>(map: A, ctx: &mut Ctx) -> Result<Read<Self>, A::Error>;

    /// Checks lengths and rules of this value and its nested objects,
    /// recording violations under the context's current path.
    fn validate_in(&self, ctx: &mut Ctx);

    /// Checks every length and rule; returns all violations at once.
    ///
    /// Decoding already validates, so this is for values built in code.
    fn validate(&self) -> Result<(), Report> {
        let mut ctx = Ctx::new();
        self.validate_in(&mut ctx);
        if ctx.is_clean() {
            Ok(())
        } else {
            Err(ctx.into_report())
        }
    }
}

/// A top-level message of one service and role.
pub trait Message: Object {
    /// Its interface key: the `service_name` it carries, or for a new-API
    /// interface addressed by path (which carries none) its URL path.
    const SERVICE_NAME: &'static str;
    /// Which table of the page it is.
    const ROLE: Role;

    /// Decodes and validates a message from JSON bytes.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// Encodes the message in the spec's wire types.
    fn encode(&self) -> Vec<u8> {
        encode(self)
    }
}

/// A request linked to the type that answers it, so that code generic over
/// requests (a handler, a test, a client) answers or expects the right
/// table; implemented for every request with an answer table.
///
/// ```
/// use bolink_types::{sdk, Answered, Message};
///
/// fn answer_role<R: Answered>() -> bolink_types::Role {
///     <R::Answer as Message>::ROLE
/// }
/// // The table the handlers answer a price query in (HTTP mode's).
/// assert_eq!(answer_role::<sdk::query_price::Request>(), bolink_types::Role::HttpReturn);
/// assert_eq!(answer_role::<sdk::lock_car::Request>(), bolink_types::Role::SdkReturn);
/// ```
pub trait Answered: Message {
    /// The answer: the first of the page's `http_return`, `sdk_return`,
    /// `response` and `async_result` tables (on the SDK's own link the
    /// transports add the `data_target` its `sdk_return` fixes).
    type Answer: Message;
}

/// Serialises a message to compact JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // The derived Serialize impls write only strings, numbers and JSON values
    // into a map with string keys, the only things serde_json can fail on, so
    // this cannot fail.
    serde_json::to_vec(value).expect("serialising a generated message cannot fail")
}

/// The message roles a page defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The page's first table: the message itself.
    Request,
    /// The HTTP-mode variant of the request.
    HttpRequest,
    /// The answer in SDK mode.
    SdkReturn,
    /// The answer in HTTP mode (the fields inside the envelope's data).
    HttpReturn,
    /// A later asynchronous answer to an upload.
    AsyncResult,
    /// The synchronous HTTP response (new API).
    Response,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Request,
        Role::HttpRequest,
        Role::SdkReturn,
        Role::HttpReturn,
        Role::AsyncResult,
        Role::Response,
    ];

    /// The name used by the spec and the CLI (`sdk-return`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Request => "request",
            Role::HttpRequest => "http-request",
            Role::SdkReturn => "sdk-return",
            Role::HttpReturn => "http-return",
            Role::AsyncResult => "async-result",
            Role::Response => "response",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected one of request, http-request, sdk-return, http-return, async-result, response)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        let normalised = s.replace('_', "-");
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == normalised)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// Why bytes did not decode to a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not JSON (or end early, or go on after the value).
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column, counted in bytes.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The object has no `service_name`, so it cannot be dispatched.
    #[error("no service_name in the message")]
    MissingServiceName,
    /// No specified interface of this family and role has this service name.
    #[error("unknown service_name {service_name:?} for {role} messages")]
    UnknownService {
        /// The name sent.
        service_name: String,
        /// The role looked in.
        role: Role,
    },
    /// The JSON is well formed but breaks the spec; every violation is listed.
    #[error("{report}")]
    Invalid {
        /// The violations.
        report: Report,
        /// What was read leniently on the way (see [`Slip`]).
        slips: Vec<Slip>,
    },
}

impl DecodeError {
    pub(crate) fn syntax(e: &serde_json::Error) -> DecodeError {
        // serde_json's Display appends " at line L column C", which the
        // variant already carries as fields.
        let text = e.to_string();
        let message = match text.rfind(" at line ") {
            Some(cut) => text[..cut].to_string(),
            None => text,
        };
        DecodeError::Syntax {
            line: e.line(),
            column: e.column(),
            message,
        }
    }

    /// The violations, for an `Invalid` error.
    pub fn report(&self) -> Option<&Report> {
        match self {
            DecodeError::Invalid { report, .. } => Some(report),
            _ => None,
        }
    }
}

/// A message read leniently, with every lenient reading on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// The message.
    pub message: T,
    /// What was received in another form than its table gives and read as
    /// the platform's Java readers read it, in the order found; empty for a
    /// message sent exactly to its table.
    pub slips: Vec<Slip>,
}

impl<T> Decoded<T> {
    /// The same readings around another value (a message wrapped in its
    /// role's enum, say).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        Decoded {
            message: f(self.message),
            slips: self.slips,
        }
    }
}

/// Decodes and validates one object of type `T` from JSON bytes.
///
/// Malformed JSON is a [`DecodeError::Syntax`]; anything else wrong (missing,
/// duplicate or mistyped fields, lengths, rules) is collected into one
/// [`DecodeError::Invalid`] report. Values are read as the platform's Java
/// readers read them (`"5"` in an integer field is 5); to learn which were,
/// use [`decode_with_slips`].
pub fn decode<T: Object>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_with_slips(bytes).map(|decoded| decoded.message)
}

/// [`decode`], keeping what was read leniently.
///
/// ```
/// use bolink_types::{decode_with_slips, sdk, SlipKind};
///
/// // The platform's own test code sends derate_duration as "0.0".
/// let bytes = br#"{"service_name":"query_price","state":1,"park_id":"20003","order_id":"A1","price":"5.0","duration":30,"derate_duration":"0.0","derate_money":0.0,"data_target":"bolink"}"#;
/// let decoded = decode_with_slips::<sdk::query_price::SdkReturn>(bytes).unwrap();
/// assert_eq!(decoded.message.derate_duration, Some(0));
/// let slips: Vec<String> = decoded.slips.iter().map(|s| s.to_string()).collect();
/// assert_eq!(slips, [
///     r#"derate_duration: string "0.0" read as an integer"#,
///     "derate_money: number 0.0 read as an amount of money",
/// ]);
/// assert_eq!(decoded.slips[0].read_as, SlipKind::Converted("an integer"));
/// ```
pub fn decode_with_slips<T: Object>(bytes: &[u8]) -> Result<Decoded<T>, DecodeError> {
    let mut ctx = Ctx::new();
    // Values are read from their raw text; from text already known to be
    // UTF-8, serde_json hands it over without checking each value again.
    // Bytes that are not UTF-8 take the byte reader, for its error position.
    let read = match std::str::from_utf8(bytes) {
        Ok(text) => read_all::<T, _>(serde_json::Deserializer::from_str(text), &mut ctx)?,
        Err(_) => read_all::<T, _>(serde_json::Deserializer::from_slice(bytes), &mut ctx)?,
    };
    match read {
        Read::Value(message) if ctx.is_clean() => {
            let (_, slips) = ctx.into_parts();
            Ok(Decoded { message, slips })
        }
        Read::Absent => {
            ctx.report(ViolationKind::WrongType {
                expected: "an object",
                found: "null".into(),
            });
            Err(invalid(ctx))
        }
        _ => Err(invalid(ctx)),
    }
}

/// Reads one object and checks that nothing follows it.
fn read_all<'de, T: Object, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    ctx: &mut Ctx,
) -> Result<Read<T>, DecodeError> {
    let read = read_object::<T, _>(&mut de, ctx).map_err(|e| DecodeError::syntax(&e))?;
    de.end().map_err(|e| DecodeError::syntax(&e))?;
    Ok(read)
}

fn invalid(ctx: Ctx) -> DecodeError {
    let (report, slips) = ctx.into_parts();
    DecodeError::Invalid { report, slips }
}

/// Reads the `service_name` of a JSON object without decoding the rest.
pub fn peek_service_name(bytes: &[u8]) -> Result<Option<String>, DecodeError> {
    #[derive(serde::Deserialize)]
    struct Peek<'a> {
        #[serde(borrow, default)]
        service_name: Option<std::borrow::Cow<'a, str>>,
    }
    // Peeking only needs the key, but must reject what decoding would reject:
    // a body that is not one JSON object.
    let peek: Peek<'_> = serde_json::from_slice(bytes).map_err(|e| DecodeError::syntax(&e))?;
    Ok(peek.service_name.map(|s| s.into_owned()))
}

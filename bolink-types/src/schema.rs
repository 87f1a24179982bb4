//! Static descriptions of messages and enums, emitted by the derive macros.
//!
//! Tools read them: the CLI prints them, property tests generate values from
//! them, the simulator fills messages from them.

use crate::code::{CodeKind, CodeRef};

/// A message or nested object.
#[derive(Debug)]
pub struct ObjectSchema {
    /// The Rust type name.
    pub rust_name: &'static str,
    /// The service name the message carries, for messages.
    pub service_name: Option<&'static str>,
    /// Whether `service_name` is required, optional or not sent inside this object.
    pub service_name_presence: Presence,
    /// Fields whose value is fixed (`data_target = "bolink"`), written as constants.
    pub constants: &'static [ConstantSchema],
    /// The fields, in the document's order.
    pub fields: &'static [FieldSchema],
    /// Groups sent together or not at all.
    pub together: &'static [&'static [&'static str]],
    /// Groups of which at least one must be present.
    pub at_least_one: &'static [&'static [&'static str]],
}

/// Whether a key must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Must be present.
    Required,
    /// May be present.
    Optional,
    /// Not part of this object (it travels elsewhere, e.g. in the envelope).
    Absent,
}

/// A key whose value is fixed by the spec.
#[derive(Debug)]
pub struct ConstantSchema {
    /// The wire name.
    pub name: &'static str,
    /// The fixed value.
    pub value: &'static str,
    /// Whether the key must be present on decode.
    pub presence: Presence,
}

/// One field.
#[derive(Debug)]
pub struct FieldSchema {
    /// The wire name.
    pub name: &'static str,
    /// The Rust field name.
    pub rust_name: &'static str,
    /// The value's kind and wire form.
    pub kind: Kind,
    /// The required rule.
    pub rule: Rule,
    /// Maximum length in characters of the wire text.
    pub max_len: Option<usize>,
}

/// The kind of a field's value and how it is written.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A JSON string.
    Text,
    /// A whole JSON number.
    Integer,
    /// A decimal JSON number.
    Decimal,
    /// Money as a JSON string.
    MoneyText,
    /// Money as a JSON number.
    MoneyNumber,
    /// Unix seconds as a JSON number.
    UnixSeconds,
    /// Unix milliseconds as a JSON number.
    UnixMillis,
    /// An enum's code, written as a JSON number (`as_text = false`) or string.
    Enum {
        /// The enum.
        schema: fn() -> &'static EnumSchema,
        /// Whether codes are written as JSON strings.
        as_text: bool,
    },
    /// A nested object.
    Object(fn() -> &'static ObjectSchema),
    /// An array of nested objects.
    Array(fn() -> &'static ObjectSchema),
    /// Free-form JSON.
    Json,
}

/// A field's required rule.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Always required.
    Always,
    /// Optional.
    Optional,
    /// Required when `field` has (or, negated, is present without) one of `codes`.
    When {
        /// The field the rule looks at.
        field: &'static str,
        /// The codes.
        codes: &'static [CodeRef<'static>],
        /// `not_in` rather than `in`.
        negated: bool,
    },
    /// Required when all these fields are present.
    WhenPresent(&'static [&'static str]),
    /// In an answer: required when the request it answers had (or,
    /// negated, had without) one of `codes` in its field `field`. Not
    /// checked on an answer alone; see [`crate::answer_rules`].
    WhenRequest {
        /// The request's field (wire name).
        field: &'static str,
        /// The codes.
        codes: &'static [CodeRef<'static>],
        /// `not_in` rather than `in`.
        negated: bool,
    },
    /// Required under a condition outside the message (not enforced).
    External(&'static str),
}

impl Rule {
    /// Whether the field must be present whatever the other fields say.
    pub fn is_always(&self) -> bool {
        matches!(self, Rule::Always)
    }
}

/// An enum of codes.
#[derive(Debug)]
pub struct EnumSchema {
    /// The Rust type name.
    pub rust_name: &'static str,
    /// Numbers or texts.
    pub kind: CodeKind,
    /// Whether unknown codes are kept.
    pub open: bool,
    /// The known codes with their Rust names and the document's labels.
    pub variants: &'static [VariantSchema],
}

/// One known code.
#[derive(Debug)]
pub struct VariantSchema {
    /// The code.
    pub code: CodeRef<'static>,
    /// The Rust variant name.
    pub rust_name: &'static str,
    /// The document's meaning.
    pub label: &'static str,
}

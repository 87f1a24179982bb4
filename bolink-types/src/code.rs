//! Codes of open enums, and matching field values against rule codes.

use std::fmt;

/// A code from the wire: a number or a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeRef<'a> {
    /// A numeric code.
    Int(i64),
    /// A text code.
    Str(&'a str),
}

impl fmt::Display for CodeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeRef::Int(i) => write!(f, "{i}"),
            CodeRef::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A code that no variant of an open enum knows; kept so that it is written
/// back unchanged.
///
/// It has no public constructor: it is only made by decoding (or
/// [`CodeEnum::from_code`]), so a known code is never wrapped in it and
/// `Unknown` always means "a code this version does not know". Read the
/// code with [`code`](Self::code) (or [`CodeEnum::code`] on the enum).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownCode(Repr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    Int(i64),
    Str(Box<str>),
}

impl UnknownCode {
    pub(crate) fn from_code(code: CodeRef<'_>) -> UnknownCode {
        UnknownCode(match code {
            CodeRef::Int(i) => Repr::Int(i),
            CodeRef::Str(s) => Repr::Str(s.into()),
        })
    }

    /// The code as received.
    pub fn code(&self) -> CodeRef<'_> {
        match &self.0 {
            Repr::Int(i) => CodeRef::Int(*i),
            Repr::Str(s) => CodeRef::Str(s),
        }
    }
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.code().fmt(f)
    }
}

/// Whether an enum's codes are numbers or texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Numeric codes.
    Integer,
    /// Text codes.
    String,
}

/// An enum whose variants stand for protocol codes; implemented by
/// `#[derive(CodeEnum)]`.
pub trait CodeEnum: Sized + Clone + PartialEq + fmt::Debug + 'static {
    /// Numbers or texts.
    const KIND: CodeKind;
    /// Whether unknown codes are kept (`true`) or rejected.
    const OPEN: bool;
    /// The enum's schema, for tools and property tests.
    fn schema() -> &'static crate::schema::EnumSchema;
    /// The variant for a code; `None` only for a closed enum and an unknown code.
    fn from_code(code: CodeRef<'_>) -> Option<Self>;
    /// The code of this value, as written on the wire.
    fn code(&self) -> CodeRef<'_>;
    /// The document's meaning of the code, when it is a known one.
    fn label(&self) -> Option<&'static str>;
}

/// Values that rules can compare with codes (`required when pay_scene is 0 or 2`).
pub trait CodeValue {
    /// The value as a code, or `None` when absent.
    fn as_code(&self) -> Option<CodeRef<'_>>;
}

impl CodeValue for i64 {
    fn as_code(&self) -> Option<CodeRef<'_>> {
        Some(CodeRef::Int(*self))
    }
}

impl CodeValue for String {
    fn as_code(&self) -> Option<CodeRef<'_>> {
        Some(CodeRef::Str(self))
    }
}

impl<T: CodeValue> CodeValue for Option<T> {
    fn as_code(&self) -> Option<CodeRef<'_>> {
        self.as_ref().and_then(CodeValue::as_code)
    }
}

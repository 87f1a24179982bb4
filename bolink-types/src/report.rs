//! Violations: what is wrong with a message, and where.

use std::fmt;

/// One thing wrong with a message, at a path such as
/// `discount_info.coupon_list[1].coupon_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where: field names joined by `.`, array positions in `[]`; empty for the whole message.
    pub path: String,
    /// What.
    pub kind: ViolationKind,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A required field is absent (or `null`).
    Missing,
    /// A field required by a rule on another field is absent.
    RequiredWhen {
        /// The rule, e.g. `pay_scene is 0 or 2`.
        condition: String,
    },
    /// A field of a `together` group is absent while another is present.
    RequiredTogether {
        /// The present fields it must accompany.
        with: Vec<&'static str>,
    },
    /// None of an `at_least_one` group is present.
    AtLeastOne {
        /// The group.
        fields: Vec<&'static str>,
    },
    /// The value's wire text is longer than the field allows.
    TooLong {
        /// The limit, in characters.
        max: usize,
        /// The value's length, in characters.
        actual: usize,
    },
    /// The value has the wrong JSON type or cannot be read as the field's type.
    WrongType {
        /// What the field takes.
        expected: &'static str,
        /// What was sent.
        found: String,
    },
    /// A code that a closed enum does not know.
    UnknownCode {
        /// The code as sent.
        code: String,
    },
    /// A field whose value is fixed by the spec has another value.
    WrongConstant {
        /// The fixed value.
        expected: &'static str,
        /// The value sent.
        found: String,
    },
    /// The same key appears twice in one object.
    Duplicate,
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViolationKind::Missing => f.write_str("required"),
            ViolationKind::RequiredWhen { condition } => write!(f, "required when {condition}"),
            ViolationKind::RequiredTogether { with } => {
                write!(f, "required together with {}", with.join(", "))
            }
            ViolationKind::AtLeastOne { fields } => {
                write!(f, "at least one of {} is required", fields.join(", "))
            }
            ViolationKind::TooLong { max, actual } => {
                write!(f, "{actual} characters, at most {max}")
            }
            ViolationKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ViolationKind::UnknownCode { code } => write!(f, "unknown code {code}"),
            ViolationKind::WrongConstant { expected, found } => {
                write!(f, "must be {expected:?}, found {found}")
            }
            ViolationKind::Duplicate => f.write_str("appears more than once"),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "(message): {}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

/// Every violation found in one message, in the order they were found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The violations; never empty in a returned error.
    pub violations: Vec<Violation>,
}

impl Report {
    /// Whether a violation with this path exists.
    pub fn has_path(&self, path: &str) -> bool {
        self.violations.iter().any(|v| v.path == path)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, violation) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

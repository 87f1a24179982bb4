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
    /// A timestamp in the other unit than the field's: 10^10 or more in a
    /// seconds field (a 13-digit millisecond value, after the year 2286 in
    /// seconds), or below 10^11 in a milliseconds field (a 10-digit second
    /// value, before 1973 in milliseconds).
    WrongTimeUnit {
        /// The value as read.
        value: i64,
        /// The unit the field takes.
        expected: TimeUnit,
    },
}

/// The unit of a timestamp field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Unix seconds.
    Seconds,
    /// Unix milliseconds.
    Millis,
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
            ViolationKind::WrongTimeUnit { value, expected } => match expected {
                TimeUnit::Seconds => {
                    write!(f, "{value} is too large for unix seconds (milliseconds?)")
                }
                TimeUnit::Millis => {
                    write!(f, "{value} is too small for unix milliseconds (seconds?)")
                }
            },
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

/// A value read leniently: accepted, but not in the form its table gives.
///
/// The platform's counterparts are Java programs whose JSON getters accept a
/// number where a string is due and the other way round; bolink-rs reads
/// what they read (see `protocol-spec/README.md`, "Accepted forms") and
/// records each such reading, so that a vendor sees what their counterpart
/// sends wrong while the message still goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    /// Where, as in [`Violation::path`].
    pub path: String,
    /// What was received, e.g. `string "0.0"`; for a key the table does not
    /// have, its whole JSON value as received.
    pub received: String,
    /// How it was read.
    pub read_as: SlipKind,
}

/// How a slipped value was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlipKind {
    /// As a value of the field's type, from another JSON form (the text
    /// names the type, e.g. `an integer`).
    Converted(&'static str),
    /// As an absent field (`null`, or `""` where a number is due).
    Absent,
    /// Not read: the key is not in the table (kept in [`Slip::received`]).
    UnknownKey,
}

impl fmt::Display for Slip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(message)"
        } else {
            &self.path
        };
        match self.read_as {
            SlipKind::Converted(expected) => {
                write!(f, "{path}: {} read as {expected}", self.received)
            }
            SlipKind::Absent => write!(f, "{path}: {} read as absent", self.received),
            SlipKind::UnknownKey => {
                write!(
                    f,
                    "{path}: not in the table, ignored (value {})",
                    self.received
                )
            }
        }
    }
}

//! The shared secret used to sign messages.

use std::fmt;

/// The secret key a park (or union) shares with the Bolink platform.
///
/// The key is only ever appended to the hashed text, never sent, so it must
/// not leak through logs either: `Debug` prints `Key(<redacted>)` and there is
/// deliberately no `Display`.
///
/// ```
/// use bolink_sign::Key;
/// let key = Key::new("8403A41ED5EF20BC");
/// assert_eq!(format!("{key:?}"), "Key(<redacted>)");
/// assert_eq!(key.as_str(), "8403A41ED5EF20BC");
/// ```
#[derive(Clone)]
pub struct Key(String);

impl Key {
    /// Wraps a key exactly as the platform issued it (no trimming, no case
    /// change: the bytes are hashed as given).
    pub fn new(key: impl Into<String>) -> Self {
        Key(key.into())
    }

    /// The key text, for the rare caller that must store or forward it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

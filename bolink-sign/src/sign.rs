//! The Bolink signature: `MD5(data + "key=" + key)`, upper-case hex.

use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::error::{SignFormatError, VerifyError};
use crate::key::Key;

/// Length of a sign as text: 16 digest bytes, two hex digits each.
const HEX_LEN: usize = 32;

/// A Bolink signature: the 16-byte MD5 digest of `data + "key=" + key`.
///
/// `Display` gives the 32 upper-case hex characters the platform sends;
/// `FromStr` accepts either case. Equality is constant-time so that comparing
/// a computed sign with a received one never leaks how many bytes matched.
///
/// ```
/// use bolink_sign::Sign;
/// let s: Sign = "cb649425cb5548a375099103ab04cc1e".parse()?;
/// assert_eq!(s.to_string(), "CB649425CB5548A375099103AB04CC1E");
/// # Ok::<(), bolink_sign::SignFormatError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Sign([u8; 16]);

impl Sign {
    /// Wraps a raw 16-byte MD5 digest.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Sign(bytes)
    }

    /// The raw 16 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The sign as 32 upper-case ASCII hex digits, without allocating
    /// (use `to_string()` for a `String`).
    pub fn as_hex(&self) -> [u8; HEX_LEN] {
        // A plain table is fine here: the sign travels in clear text, so the
        // encoding has no secret to protect.
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = [0u8; HEX_LEN];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        out
    }
}

impl fmt::Display for Sign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.as_hex();
        // The buffer only ever holds ASCII hex digits.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sign({self})")
    }
}

impl PartialEq for Sign {
    fn eq(&self, other: &Self) -> bool {
        self.0[..].ct_eq(&other.0[..]).into()
    }
}

impl Eq for Sign {}

impl ConstantTimeEq for Sign {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0[..].ct_eq(&other.0[..])
    }
}

impl FromStr for Sign {
    type Err = SignFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let chars = s.chars().count();
        if chars != HEX_LEN {
            return Err(SignFormatError::WrongLength { len: chars });
        }
        // Locate the first bad character ourselves so the error can point at
        // it; base16ct only says "invalid". The received sign is public, so
        // this early exit leaks nothing.
        if let Some((position, ch)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(SignFormatError::InvalidChar { position, ch });
        }
        let mut bytes = [0u8; 16];
        base16ct::mixed::decode(s, &mut bytes).map_err(|_| SignFormatError::InvalidChar {
            // Unreachable after the checks above; keep a typed error anyway.
            position: 0,
            ch: s.chars().next().unwrap_or('\0'),
        })?;
        Ok(Sign(bytes))
    }
}

/// Signs `data` (the exact JSON text of the `data` field) with `key`.
///
/// The digest is `MD5(data + "key=" + key)` with no separator before `key=`.
/// The three parts are fed to MD5 one after the other so no concatenated copy
/// of the message is ever allocated.
///
/// ```
/// use bolink_sign::{sign, Key};
/// let data = br#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
/// let s = sign(data, &Key::new("8403A41ED5EF20BC"));
/// assert_eq!(s.to_string(), "CB649425CB5548A375099103AB04CC1E");
/// ```
#[must_use]
pub fn sign(data: &[u8], key: &Key) -> Sign {
    let mut md5 = Md5::new();
    md5.update(data);
    md5.update(b"key=");
    md5.update(key.as_str().as_bytes());
    Sign(md5.finalize().into())
}

/// Checks `received_sign` (hex, either case) against the sign of `data`.
///
/// `data` must be the bytes exactly as received: re-serialising a parsed value
/// changes spacing or key order and so the digest. The comparison runs in
/// constant time over the 16 digest bytes.
///
/// # Errors
/// [`VerifyError::MalformedSign`] when `received_sign` is not 32 hex
/// characters, [`VerifyError::Mismatch`] when it is well formed but wrong.
///
/// ```
/// use bolink_sign::{verify, Key, VerifyError};
/// let key = Key::new("8403A41ED5EF20BC");
/// let data = br#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
/// assert!(verify(data, "cb649425cb5548a375099103ab04cc1e", &key).is_ok());
/// assert!(matches!(verify(data, "00000000000000000000000000000000", &key), Err(VerifyError::Mismatch { .. })));
/// ```
pub fn verify(data: &[u8], received_sign: &str, key: &Key) -> Result<(), VerifyError> {
    let received: Sign = received_sign.parse()?;
    let expected = sign(data, key);
    if bool::from(received.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch { expected })
    }
}

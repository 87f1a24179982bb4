//! `bolink verify`.

use std::path::Path;

use bolink_sign::{parse_any, sign, Key};

use super::{outcome, Outcome};

/// Checks the sign of the envelope in `file`, either form.
pub fn run(key: &str, file: Option<&Path>) -> Outcome {
    outcome(|| {
        let bytes = crate::input::read(file)?;
        let body = parse_any(bytes.trim_ascii())
            .map_err(|e| Outcome::malformed(format!("not an envelope: {e}")))?;
        let key = Key::new(key);
        let envelope = body.envelope();
        match envelope.verify(&key) {
            Ok(()) => {
                println!("sign ok");
                Ok(Outcome::Success)
            }
            Err(e) => {
                println!(
                    "sign does not match ({e}); expected {}",
                    sign(envelope.data_bytes(), &key)
                );
                Ok(Outcome::Failed)
            }
        }
    })
}

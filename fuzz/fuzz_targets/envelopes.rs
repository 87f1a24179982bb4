//! Both envelope parsers (SDK-HTTP JSON, new-API JSON or base64) on any
//! bytes: errors are fine, panics are not; whatever parses verifies without
//! panicking and its data is the exact slice of the input.
#![no_main]

use bolink_sign::{newapi, parse_any, sdk_http, Key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::new("fuzz-key");
    if let Ok(envelope) = sdk_http::Envelope::parse(data) {
        let _ = envelope.verify(&key);
        let bytes = envelope.data_bytes();
        assert!(data.windows(bytes.len()).any(|w| w == bytes), "data is a slice of the input");
    }
    if let Ok(envelope) = newapi::Envelope::parse(data) {
        let _ = envelope.verify(&key);
    }
    if let Ok(body) = parse_any(data) {
        let _ = body.verify(&key);
        let _ = body.envelope().data_bytes();
    }
});

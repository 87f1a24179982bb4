//! `Message` decoding of every role and service. The input is a header line
//! `<role> <key>` (e.g. `sdk-return query_price`) and then the JSON, so that
//! seeds name their table and the fuzzer explores all of them. Whatever
//! decodes re-encodes to bytes that decode to the same value.
#![no_main]

use bolink_types::{newapi, sdk, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(newline) = data.iter().position(|&b| b == b'\n') else { return };
    let (header, json) = (&data[..newline], &data[newline + 1..]);
    let Ok(header) = std::str::from_utf8(header) else { return };
    let Some((role, key)) = header.split_once(' ') else { return };
    let Ok(role) = role.parse::<Role>() else { return };
    if let Ok(message) = sdk::Message::decode_as(role, key, json) {
        let again = sdk::Message::decode_as(role, key, &message.encode()).expect("a re-encoded message decodes");
        assert_eq!(again, message);
    }
    if let Ok(message) = newapi::Message::decode_as(role, key, json) {
        let again = newapi::Message::decode_as(role, key, &message.encode()).expect("a re-encoded message decodes");
        assert_eq!(again, message);
    }
});

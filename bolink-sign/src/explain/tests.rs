//! Each cause is reproduced by a sign built here by hand: the wrongly signed
//! text is written out literally and hashed with the `md-5` crate directly,
//! so a mistake in the module's own rebuilding cannot make its test pass.

use md5::{Digest, Md5};
use proptest::prelude::*;

use super::json::MAX_DEPTH;
use super::*;

const KEY: &str = "8403A41ED5EF20BC";

/// Upper-case hex MD5 of `bytes`, computed independently of the crate.
fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn sdk_body(data: &str, sign: &str) -> String {
    format!(r#"{{"service_name":"query_price","sign":"{sign}","token":"tok","data":{data}}}"#)
}

fn newapi_body(data: &str, sign: &str) -> String {
    format!(r#"{{"data":{data},"sign":"{sign}"}}"#)
}

fn key(secret: &str) -> Vec<LabelledKey> {
    vec![LabelledKey::unlabelled(Key::new(secret))]
}

fn ids(body: &str, keys: &[LabelledKey]) -> Vec<String> {
    explain(body.as_bytes(), keys)
        .expect("an explainable body")
        .cause_ids()
}

/// Signs `signed` (the text the sender hashed, `key=` and key included),
/// sends `data`, and returns the causes found in both envelope families.
fn causes_of(data: &str, signed: &[u8]) -> Vec<String> {
    let sign = md5_hex(signed);
    let sdk = ids(&sdk_body(data, &sign), &key(KEY));
    let newapi = ids(&newapi_body(data, &sign), &key(KEY));
    assert_eq!(sdk, newapi, "both families find the same");
    sdk
}

#[test]
fn a_correct_sign_has_no_cause() {
    let data = r#"{"park_id":"21835","car_number":"京A12345"}"#;
    let sign = md5_hex(format!("{data}key={KEY}").as_bytes());
    for body in [sdk_body(data, &sign), newapi_body(data, &sign)] {
        let explanation = explain(body.as_bytes(), &key(KEY)).unwrap();
        assert!(explanation.valid);
        assert!(explanation.causes.is_empty(), "{:?}", explanation.causes);
        assert_eq!(explanation.expected.to_string(), sign);
    }
    // Base64 bodies too.
    use base64::Engine as _;
    let base64 =
        base64::engine::general_purpose::STANDARD.encode(newapi_body(data, &sign).as_bytes());
    let explanation = explain(base64.as_bytes(), &key(KEY)).unwrap();
    assert!(explanation.valid && explanation.causes.is_empty());
    assert_eq!(explanation.encoding, BodyEncoding::Base64);
    assert_eq!(explanation.family, Family::NewApi);
}

#[test]
fn an_unreproducible_sign_is_unknown() {
    let data = r#"{"b":1,"a":2}"#;
    let explanation = explain(
        sdk_body(data, &md5_hex(b"something else entirely")).as_bytes(),
        &key(KEY),
    )
    .unwrap();
    assert!(!explanation.valid);
    assert_eq!(explanation.causes, [Cause::Unknown]);
    assert_eq!(explanation.family, Family::SdkHttp);
    // A lower-case sign that nothing reproduces is still only unknown.
    let lower = md5_hex(b"something else entirely").to_lowercase();
    assert_eq!(ids(&sdk_body(data, &lower), &key(KEY)), ["unknown"]);
}

#[test]
fn compact() {
    let data = r#"{"b": 1, "a": [1, 2]}"#;
    let signed = format!(r#"{{"b":1,"a":[1,2]}}key={KEY}"#);
    assert_eq!(causes_of(data, signed.as_bytes()), ["compact"]);
}

#[test]
fn sorted_keys() {
    let data = r#"{"b":1,"a":{"d":2,"c":3}}"#;
    let signed = format!(r#"{{"a":{{"c":3,"d":2}},"b":1}}key={KEY}"#);
    assert_eq!(causes_of(data, signed.as_bytes()), ["sorted-keys"]);
}

#[test]
fn pretty_two_spaces() {
    let data = r#"{"b":1,"a":[1,2],"c":{}}"#;
    let signed =
        format!("{{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ],\n  \"c\": {{}}\n}}key={KEY}");
    assert_eq!(causes_of(data, signed.as_bytes()), ["pretty"]);
}

#[test]
fn pretty_four_spaces() {
    let data = r#"{"b":1,"a":[1,2]}"#;
    let signed =
        format!("{{\n    \"b\": 1,\n    \"a\": [\n        1,\n        2\n    ]\n}}key={KEY}");
    assert_eq!(causes_of(data, signed.as_bytes()), ["pretty-4"]);
}

#[test]
fn pretty_tabs_as_fastjson_writes_them() {
    let data = r#"{"b":1,"a":{"x":"y"}}"#;
    let signed = format!("{{\n\t\"b\":1,\n\t\"a\":{{\n\t\t\"x\":\"y\"\n\t}}\n}}key={KEY}");
    assert_eq!(causes_of(data, signed.as_bytes()), ["pretty-tab"]);
}

#[test]
fn amp_key() {
    let data = r#"{"park_id":"21835"}"#;
    let signed = format!("{data}&key={KEY}");
    assert_eq!(causes_of(data, signed.as_bytes()), ["amp-key"]);
}

#[test]
fn no_key_prefix() {
    let data = r#"{"park_id":"21835"}"#;
    let signed = format!("{data}{KEY}");
    assert_eq!(causes_of(data, signed.as_bytes()), ["no-key-prefix"]);
}

#[test]
fn key_case() {
    let data = r#"{"park_id":"21835"}"#;
    let lower_key = key("abcdef12");
    let upper = md5_hex(format!("{data}key=ABCDEF12").as_bytes());
    assert_eq!(ids(&sdk_body(data, &upper), &lower_key), ["key-uppercase"]);
    let upper_key = key("ABCDEF12");
    let lower = md5_hex(format!("{data}key=abcdef12").as_bytes());
    assert_eq!(ids(&sdk_body(data, &lower), &upper_key), ["key-lowercase"]);
}

#[test]
fn key_trailing_newline() {
    let data = r#"{"park_id":"21835"}"#;
    for newline in ["\n", "\r\n"] {
        let signed = format!("{data}key={KEY}{newline}");
        assert_eq!(causes_of(data, signed.as_bytes()), ["key-trailing-newline"]);
    }
}

#[test]
fn whole_envelope() {
    let data = r#"{"park_id":"21835"}"#;
    // SDK-HTTP: the envelope signed before its sign was put in.
    let unsigned = format!(r#"{{"service_name":"query_price","token":"tok","data":{data}}}"#);
    let sign = md5_hex(format!("{unsigned}key={KEY}").as_bytes());
    assert_eq!(ids(&sdk_body(data, &sign), &key(KEY)), ["whole-envelope"]);
    // New API: the envelope with an empty sign.
    let empty = format!(r#"{{"data":{data},"sign":""}}"#);
    let sign = md5_hex(format!("{empty}key={KEY}").as_bytes());
    assert_eq!(
        ids(&newapi_body(data, &sign), &key(KEY)),
        ["whole-envelope"]
    );
}

#[test]
fn data_as_string() {
    let data = r#"{"park_id":"21835","n":1}"#;
    let signed = format!(r#""{{\"park_id\":\"21835\",\"n\":1}}"key={KEY}"#);
    assert_eq!(causes_of(data, signed.as_bytes()), ["data-as-string"]);
    // Gson escapes '=' in a string by default.
    let data = r#"{"q":"a=b"}"#;
    let signed = format!(r#""{{\"q\":\"a\u003db\"}}"key={KEY}"#);
    assert_eq!(causes_of(data, signed.as_bytes()), ["data-as-string"]);
}

#[test]
fn gbk_bytes() {
    let data = r#"{"car_number":"京A12345"}"#;
    // 京 is 0xBE 0xA9 in GBK.
    let mut signed = br#"{"car_number":""#.to_vec();
    signed.extend_from_slice(&[0xBE, 0xA9]);
    signed.extend_from_slice(format!(r#"A12345"}}key={KEY}"#).as_bytes());
    assert_eq!(causes_of(data, &signed), ["gbk"]);
}

#[test]
fn unicode_escapes_either_hex_case() {
    let data = r#"{"car_number":"京A12345"}"#;
    for escaped in [r"\u4eac", r"\u4EAC"] {
        let signed = format!(r#"{{"car_number":"{escaped}A12345"}}key={KEY}"#);
        assert_eq!(causes_of(data, signed.as_bytes()), ["unicode-escapes"]);
    }
    // Beyond the BMP: a surrogate pair (U+1F697 is \ud83d\ude97).
    let data = r#"{"v":"🚗"}"#;
    let signed = format!(r#"{{"v":"\ud83d\ude97"}}key={KEY}"#);
    assert_eq!(causes_of(data, signed.as_bytes()), ["unicode-escapes"]);
}

#[test]
fn raw_unicode() {
    let data = r#"{"car_number":"\u4eacA12345","q":"\"\\"}"#;
    let signed = format!(r#"{{"car_number":"京A12345","q":"\"\\"}}key={KEY}"#);
    assert_eq!(causes_of(data, signed.as_bytes()), ["raw-unicode"]);
}

#[test]
fn trailing_newline() {
    let data = r#"{"park_id":"21835"}"#;
    for newline in ["\n", "\r\n"] {
        let signed = format!("{data}{newline}key={KEY}");
        assert_eq!(causes_of(data, signed.as_bytes()), ["trailing-newline"]);
    }
}

#[test]
fn lowercase_hex() {
    let data = r#"{"b":1,"a":2}"#;
    // Right digest, lower case: valid here, refused by the platform.
    let sign = md5_hex(format!("{data}key={KEY}").as_bytes()).to_lowercase();
    let explanation = explain(sdk_body(data, &sign).as_bytes(), &key(KEY)).unwrap();
    assert!(explanation.valid);
    assert_eq!(explanation.cause_ids(), ["lowercase-hex"]);
    // Together with another mistake.
    let sign = md5_hex(format!(r#"{{"a":2,"b":1}}key={KEY}"#).as_bytes()).to_lowercase();
    assert_eq!(
        ids(&newapi_body(data, &sign), &key(KEY)),
        ["sorted-keys", "lowercase-hex"]
    );
}

#[test]
fn other_keys_by_label() {
    let data = r#"{"b":1,"a":2}"#;
    let keys = [
        LabelledKey::new("ukey", Key::new("UKEY0000")),
        LabelledKey::new("ckey", Key::new("CKEY1111")),
    ];
    let sign = md5_hex(format!("{data}key=CKEY1111").as_bytes());
    assert_eq!(ids(&sdk_body(data, &sign), &keys), ["other-key:ckey"]);
    let sign = md5_hex(br#"{"a":2,"b":1}key=CKEY1111"#);
    assert_eq!(
        ids(&sdk_body(data, &sign), &keys),
        ["sorted-keys+other-key:ckey"]
    );
    let sign = md5_hex(format!("{data}&key=CKEY1111").as_bytes());
    assert_eq!(
        ids(&sdk_body(data, &sign), &keys),
        ["amp-key+other-key:ckey"]
    );
    // The first key is the expected one: signed with it, the message is valid.
    let sign = md5_hex(format!("{data}key=UKEY0000").as_bytes());
    let explanation = explain(sdk_body(data, &sign).as_bytes(), &keys).unwrap();
    assert!(explanation.valid && explanation.causes.is_empty());
}

#[test]
fn every_mistake_has_a_distinct_id_and_a_line_in_the_list() {
    let list = cause_list();
    let mut seen = std::collections::HashSet::new();
    for mistake in Mistake::ALL {
        assert!(seen.insert(mistake.id()), "{mistake:?}");
        assert!(
            mistake
                .id()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "kebab-case: {}",
            mistake.id()
        );
        assert!(
            list.lines()
                .any(|line| line.split_whitespace().next() == Some(mistake.id())),
            "{list}"
        );
    }
    for id in ["other-key:LABEL", "unknown", "malformed-sign"] {
        assert!(list.contains(id), "{list}");
    }
}

#[test]
fn garbage_gets_typed_errors() {
    let good_sign = md5_hex(b"x");
    type Check = fn(&ExplainError) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (b"@@not base64@@".to_vec(), |e| {
            matches!(e, ExplainError::Envelope(EnvelopeError::Base64 { .. }))
        }),
        (b"".to_vec(), |e| {
            matches!(e, ExplainError::Envelope(EnvelopeError::Empty))
        }),
        (br#"{"data":{"a":1},"sign":"#.to_vec(), |e| {
            matches!(e, ExplainError::Envelope(EnvelopeError::Json { .. }))
        }),
        (br#"{"data":{"a":1}}"#.to_vec(), |e| {
            matches!(
                e,
                ExplainError::Envelope(EnvelopeError::MissingField("sign"))
            )
        }),
        (br#"{"data":{"a":1},"sign":"ABC"}"#.to_vec(), |e| {
            matches!(
                e,
                ExplainError::MalformedSign(SignFormatError::WrongLength { len: 3 })
            )
        }),
        (
            format!(r#"{{"data":{{"a":1}},"sign":"{}"}}"#, "Z".repeat(32)).into_bytes(),
            |e| {
                matches!(
                    e,
                    ExplainError::MalformedSign(SignFormatError::InvalidChar { .. })
                )
            },
        ),
        (
            b"{\"data\":{\"a\":\"\xff\xfe\"},\"sign\":\"x\"}".to_vec(),
            |e| matches!(e, ExplainError::Envelope(EnvelopeError::Json { .. })),
        ),
    ];
    for (body, expected) in cases {
        let err = explain(&body, &key(KEY)).expect_err("garbage");
        assert!(
            expected(&err),
            "{:?}: {err:?}",
            String::from_utf8_lossy(&body)
        );
    }
    let body = newapi_body(r#"{"a":1}"#, &good_sign);
    assert_eq!(
        explain(body.as_bytes(), &[]).unwrap_err(),
        ExplainError::NoKey
    );
}

#[test]
fn deep_data_does_not_overflow() {
    // serde_json refuses more than 128 levels; just under that explains.
    let depth = 120;
    let data = format!(
        "{}{}",
        "{\"a\":".repeat(depth),
        "1".to_owned() + &"}".repeat(depth)
    );
    let sign = md5_hex(b"nothing");
    assert_eq!(ids(&sdk_body(&data, &sign), &key(KEY)), ["unknown"]);
    let reader_limit = "[".repeat(MAX_DEPTH + 10) + &"]".repeat(MAX_DEPTH + 10);
    assert!(parse_node(&reader_limit).is_none());
}

#[test]
fn the_rebuilders_are_total_on_broken_text() {
    // The reader is meant for text serde_json validated (it does not check
    // scalars), but broken structure reads as nothing.
    for text in [
        "", "{", "{\"a\"", "{\"a\":}", "[1,", "\"\\", "}", "1 2", "{1:2}",
    ] {
        assert!(parse_node(text).is_none(), "{text:?}");
    }
    for text in [
        "",
        "{",
        "[1,",
        "\"\\",
        "\\u12",
        "\\ud83d",
        "\\ud83d\\u0041",
        "\\udc00",
        "\\",
        "\\u4eac\\",
    ] {
        let _ = unescape_non_ascii(text);
        let _ = escape_non_ascii(text, true);
        let _ = envelope_variants(text);
        let _ = candidates(text, Some(text));
    }
    assert_eq!(unescape_non_ascii(r"\ud83d\u0041"), None);
    assert_eq!(unescape_non_ascii(r"\\u4eac"), None, "an escaped backslash");
    // Not in GBK: written as '?'.
    assert_eq!(super::gbk("a京\u{1F697}"), b"a\xbe\xa9?".to_vec());
}

/// Arbitrary JSON values, with non-ASCII text in keys and strings.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        "[a-z京\\\\\"\n\u{1F697}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z京]{1,4}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = explain(&bytes, &key(KEY));
        let _ = parse_node(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_envelopes_never_panic(data in "[ -~京\u{1F697}]{0,60}", sign in "[0-9A-Fa-f]{32}") {
        // Mostly not JSON, sometimes JSON: either way a typed answer.
        let body = format!(r#"{{"data":{{"v":{data}}},"sign":"{sign}"}}"#);
        let _ = explain(body.as_bytes(), &key(KEY));
    }

    /// The layouts match serde_json's own compact and pretty output, an
    /// independent implementation (its maps are sorted, so key order is
    /// the same on both sides).
    #[test]
    fn layouts_match_serde_json(value in json_value()) {
        let compact = serde_json::to_string(&value).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let node = parse_node(&pretty).expect("serde_json's output reads");
        let mut ours = String::new();
        write_compact(&node, &mut ours);
        prop_assert_eq!(&ours, &compact);
        let node = parse_node(&compact).expect("serde_json's output reads");
        let mut ours = String::new();
        write_pretty(&node, Layout { indent: "  ", colon: ": " }, 0, &mut ours);
        prop_assert_eq!(&ours, &pretty);
        let mut ours = String::new();
        write_compact(&sorted(&node), &mut ours);
        prop_assert_eq!(&ours, &compact, "already sorted");
    }

    #[test]
    fn escapes_round_trip(value in json_value()) {
        let text = serde_json::to_string(&value).unwrap();
        if let Some(escaped) = escape_non_ascii(&text, false) {
            prop_assert!(escaped.is_ascii());
            // Compared with the text read back the same way: serde_json's
            // float parsing does not round-trip every last digit.
            let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
            let direct: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &direct);
            prop_assert_eq!(unescape_non_ascii(&escaped), Some(text.clone()));
        }
        let quoted = json_string(&text, true);
        let back: String = serde_json::from_str(&quoted).unwrap();
        prop_assert_eq!(back, text);
    }

    /// A right sign over any data has no cause, and sorting its keys is
    /// found whenever it changes the text.
    #[test]
    fn right_signs_are_clean_and_sorting_is_found(value in json_value()) {
        if !value.is_object() {
            return Ok(());
        }
        let data = serde_json::to_string_pretty(&value).unwrap();
        let sign = md5_hex(format!("{data}key={KEY}").as_bytes());
        let explanation = explain(newapi_body(&data, &sign).as_bytes(), &key(KEY)).unwrap();
        prop_assert!(explanation.valid);
        prop_assert!(explanation.causes.is_empty());
        let compact = serde_json::to_string(&value).unwrap();
        if compact != data {
            let sign = md5_hex(format!("{compact}key={KEY}").as_bytes());
            let found = ids(&newapi_body(&data, &sign), &key(KEY));
            prop_assert!(found.contains(&"compact".to_owned()), "{:?}", found);
        }
    }
}

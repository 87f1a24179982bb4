//! Integration tests for bolink-sign: the official vector, round trips,
//! tamper detection, typed errors and no-panic properties.

use std::borrow::Cow;

use base64::Engine as _;
use bolink_sign::newapi::{self, BodyEncoding};
use bolink_sign::{
    parse_any, sdk_http, sign, verify, AnyEnvelope, EnvelopeError, Key, Sign, SignFormatError,
    VerifyError,
};
use proptest::prelude::*;

const KEY: &str = "8403A41ED5EF20BC";
const DATA: &str = r#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
const SIGN: &str = "CB649425CB5548A375099103AB04CC1E";
const OFFICIAL_BODY: &str = r#"{"service_name":"login","sign":"CB649425CB5548A375099103AB04CC1E","data":{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}}"#;

fn key() -> Key {
    Key::new(KEY)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sdk_err(body: &[u8]) -> EnvelopeError {
    sdk_http::Envelope::parse(body).expect_err("body should be rejected")
}

fn new_err(body: &[u8]) -> EnvelopeError {
    newapi::Envelope::parse(body).expect_err("body should be rejected")
}

// ---------------------------------------------------------------- vector

#[test]
fn official_vector_signs() {
    assert_eq!(sign(DATA.as_bytes(), &key()).to_string(), SIGN);
}

#[test]
fn official_vector_verifies_in_any_case() {
    verify(DATA.as_bytes(), SIGN, &key()).unwrap();
    verify(DATA.as_bytes(), &SIGN.to_lowercase(), &key()).unwrap();
    verify(DATA.as_bytes(), "cb649425CB5548a375099103AB04cc1e", &key()).unwrap();
}

#[test]
fn official_envelope_parses_and_verifies() {
    let env = sdk_http::Envelope::parse(OFFICIAL_BODY.as_bytes()).unwrap();
    assert_eq!(env.service_name, "login");
    assert_eq!(env.sign, SIGN);
    assert!(env.token.is_none());
    assert_eq!(env.data_bytes(), DATA.as_bytes());
    env.verify(&key()).unwrap();
    // Unescaped strings are borrowed from the body, not copied.
    assert!(matches!(env.service_name, Cow::Borrowed(_)));
    assert!(matches!(env.sign, Cow::Borrowed(_)));
}

#[test]
fn build_reproduces_official_envelope() {
    let body = sdk_http::build("login", None, DATA, &key()).unwrap();
    assert_eq!(String::from_utf8(body).unwrap(), OFFICIAL_BODY);
}

// ---------------------------------------------------------------- sign type

#[test]
fn sign_display_and_parse() {
    let s: Sign = SIGN.to_lowercase().parse().unwrap();
    assert_eq!(s.to_string(), SIGN);
    assert_eq!(&s.as_hex(), SIGN.as_bytes());
    assert_eq!(format!("{s:?}"), format!("Sign({SIGN})"));
    assert_eq!(Sign::from_bytes(*s.as_bytes()), s);
    assert_eq!(s, sign(DATA.as_bytes(), &key()));
}

#[test]
fn sign_parse_errors() {
    assert_eq!(
        "ABC".parse::<Sign>().unwrap_err(),
        SignFormatError::WrongLength { len: 3 }
    );
    let bad = format!("{}g", &SIGN[..31]);
    assert_eq!(
        bad.parse::<Sign>().unwrap_err(),
        SignFormatError::InvalidChar {
            position: 31,
            ch: 'g'
        }
    );
    // Multi-byte characters are counted as characters, not bytes.
    let wide = "泊".repeat(32);
    assert_eq!(
        wide.parse::<Sign>().unwrap_err(),
        SignFormatError::InvalidChar {
            position: 0,
            ch: '泊'
        }
    );
}

#[test]
fn key_debug_is_redacted() {
    let k = key();
    let shown = format!("{k:?}");
    assert_eq!(shown, "Key(<redacted>)");
    assert!(!shown.contains(KEY));
    assert_eq!(k.as_str(), KEY);
}

// ---------------------------------------------------------------- verify failures

#[test]
fn wrong_key_is_mismatch() {
    let err = verify(DATA.as_bytes(), SIGN, &Key::new("8403A41ED5EF20BD")).unwrap_err();
    assert!(matches!(err, VerifyError::Mismatch { .. }));
    let env = sdk_http::Envelope::parse(OFFICIAL_BODY.as_bytes()).unwrap();
    assert!(matches!(
        env.verify(&Key::new("")),
        Err(VerifyError::Mismatch { .. })
    ));
}

#[test]
fn mismatch_reports_expected_but_does_not_print_it() {
    let err = verify(b"{}", SIGN, &key()).unwrap_err();
    let VerifyError::Mismatch { expected } = &err else {
        panic!("expected Mismatch, got {err:?}");
    };
    assert_eq!(*expected, sign(b"{}", &key()));
    assert!(!err.to_string().contains(&expected.to_string()));
}

#[test]
fn malformed_signs_are_not_mismatches() {
    let short = &SIGN[..31];
    let long = format!("{SIGN}0");
    let non_hex = format!("{}Z", &SIGN[..31]);
    let cases: [(&str, SignFormatError); 5] = [
        (short, SignFormatError::WrongLength { len: 31 }),
        (&long, SignFormatError::WrongLength { len: 33 }),
        (
            &non_hex,
            SignFormatError::InvalidChar {
                position: 31,
                ch: 'Z',
            },
        ),
        ("", SignFormatError::WrongLength { len: 0 }),
        (
            " CB649425CB5548A375099103AB04CC1",
            SignFormatError::InvalidChar {
                position: 0,
                ch: ' ',
            },
        ),
    ];
    for (received, want) in cases {
        assert_eq!(
            verify(DATA.as_bytes(), received, &key()),
            Err(VerifyError::MalformedSign(want)),
            "sign {received:?}"
        );
    }
}

#[test]
fn verification_uses_received_bytes() {
    // Same values as DATA, but spaced out and in another key order.
    let data = r#"{ "park_id" : "21835",  "local_id":"0071cc97102b_1001_qh321_quanhao-atest1", "union_id": "200208" }"#;
    let exact = sign(data.as_bytes(), &key());
    let compact =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(data).unwrap()).unwrap();
    assert_ne!(compact, data);
    let compact_sign = sign(compact.as_bytes(), &key());

    let body = format!(r#"{{"service_name":"x","sign":"{exact}","data":{data}}}"#);
    let env = sdk_http::Envelope::parse(body.as_bytes()).unwrap();
    assert_eq!(env.data_bytes(), data.as_bytes());
    env.verify(&key()).unwrap();

    let body = format!(r#"{{"service_name":"x","sign":"{compact_sign}","data":{data}}}"#);
    let env = sdk_http::Envelope::parse(body.as_bytes()).unwrap();
    assert!(matches!(
        env.verify(&key()),
        Err(VerifyError::Mismatch { .. })
    ));

    // The same holds for the new API envelope, with whitespace around data.
    let body = format!("{{\"sign\":\"{exact}\",\n  \"data\" :  {data}  \n}}");
    let env = newapi::Envelope::parse(body.as_bytes()).unwrap();
    assert_eq!(env.data_bytes(), data.as_bytes());
    env.verify(&key()).unwrap();
    let body = format!(r#"{{"sign":"{compact_sign}","data":{data}}}"#);
    assert!(matches!(
        newapi::Envelope::parse(body.as_bytes())
            .unwrap()
            .verify(&key()),
        Err(VerifyError::Mismatch { .. })
    ));
}

// ---------------------------------------------------------------- round trips

#[test]
fn sdk_http_round_trip_with_token() {
    let data = r#"{"car_number":"京A12345","price":"10.00","escaped":"a\"b\\c"}"#;
    let body = sdk_http::build("in_park", Some("tok\"en\n1"), data, &key()).unwrap();
    let env = sdk_http::Envelope::parse(&body).unwrap();
    assert_eq!(env.service_name, "in_park");
    assert_eq!(env.token.as_deref(), Some("tok\"en\n1"));
    assert_eq!(env.data_bytes(), data.as_bytes());
    env.verify(&key()).unwrap();
}

#[test]
fn build_escapes_control_characters() {
    let body = sdk_http::build("a\u{1}b", None, "{}", &key()).unwrap();
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(text.contains(r#""a\u0001b""#), "{text}");
    let env = sdk_http::Envelope::parse(&body).unwrap();
    assert_eq!(env.service_name, "a\u{1}b");
    assert!(matches!(env.service_name, Cow::Owned(_)));
}

#[test]
fn build_drops_whitespace_around_data() {
    let body = sdk_http::build("x", None, "  {\"a\": 1}\n", &key()).unwrap();
    let env = sdk_http::Envelope::parse(&body).unwrap();
    assert_eq!(env.data_bytes(), b"{\"a\": 1}");
    env.verify(&key()).unwrap();
}

#[test]
fn newapi_round_trips_in_both_encodings() {
    let data = r#"{"park_id":"21835","order_id":"A-1","money":12.5}"#;
    for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
        for union_id in [None, Some(200208), Some(-1)] {
            let body = newapi::build(data, &key(), union_id, encoding).unwrap();
            let (json, detected) = newapi::decode_body(&body).unwrap();
            assert_eq!(detected, encoding);
            let env = newapi::Envelope::parse(&json).unwrap();
            assert_eq!(env.data_bytes(), data.as_bytes());
            assert_eq!(
                env.union_id.map(|u| u.get().to_owned()),
                union_id.map(|u| u.to_string())
            );
            env.verify(&key()).unwrap();

            let any = parse_any(&body).unwrap();
            assert_eq!(any.encoding(), encoding);
            assert_eq!(any.json(), &*json);
            assert!(matches!(any.envelope(), AnyEnvelope::NewApi(_)));
            any.verify(&key()).unwrap();
        }
    }
}

#[test]
fn newapi_json_body_is_exact() {
    let body = newapi::build("{}", &key(), Some(7), BodyEncoding::Json).unwrap();
    let s = sign(b"{}", &key());
    assert_eq!(
        String::from_utf8(body).unwrap(),
        format!(r#"{{"data":{{}},"sign":"{s}","union_id":7}}"#)
    );
    assert_eq!(BodyEncoding::default(), BodyEncoding::Json);
}

#[test]
fn decode_body_accepts_java_style_base64() {
    // 160 bytes: not a multiple of 3, so the encoding ends in padding.
    let json = format!(r#"{{"data":{DATA},"sign":"{SIGN}","union_id":"2002"}}"#);
    assert_ne!(json.len() % 3, 0);
    let padded = b64(json.as_bytes());
    // Java's MIME encoder: CRLF every 76 characters.
    let mime: String = padded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let unpadded = padded.trim_end_matches('=').to_owned();
    assert_ne!(unpadded, padded, "test needs a padded encoding");
    for body in [
        padded.clone(),
        format!("{mime}\r\n"),
        unpadded,
        format!("\n  {padded}"),
    ] {
        let (decoded, enc) = newapi::decode_body(body.as_bytes()).unwrap();
        assert_eq!(enc, BodyEncoding::Base64);
        assert_eq!(&*decoded, json.as_bytes());
        let env = newapi::Envelope::parse(&decoded).unwrap();
        assert_eq!(env.union_id.unwrap().get(), "\"2002\"");
        env.verify(&key()).unwrap();
    }
}

#[test]
fn decode_body_borrows_json() {
    let body = b"\r\n {\"data\":{}}";
    let (json, enc) = newapi::decode_body(body).unwrap();
    assert_eq!(enc, BodyEncoding::Json);
    assert!(matches!(json, Cow::Borrowed(_)));
    assert_eq!(&*json, body);
}

#[test]
fn parse_any_detects_kind() {
    let any = parse_any(OFFICIAL_BODY.as_bytes()).unwrap();
    assert_eq!(any.encoding(), BodyEncoding::Json);
    match any.envelope() {
        AnyEnvelope::SdkHttp(env) => assert_eq!(env.service_name, "login"),
        other => panic!("expected SDK-HTTP, got {other:?}"),
    }
    assert_eq!(any.envelope().sign(), SIGN);
    assert_eq!(any.envelope().data_bytes(), DATA.as_bytes());
    any.verify(&key()).unwrap();

    // An SDK-HTTP envelope wrapped in base64 is still recognised by its
    // service_name.
    let wrapped = b64(OFFICIAL_BODY.as_bytes());
    let any = parse_any(wrapped.as_bytes()).unwrap();
    assert_eq!(any.encoding(), BodyEncoding::Base64);
    assert!(matches!(any.envelope(), AnyEnvelope::SdkHttp(_)));
    any.envelope().verify(&key()).unwrap();
    assert_eq!(&*any.into_json(), OFFICIAL_BODY.as_bytes());

    // Errors of the detected kind surface from parse_any itself.
    assert_eq!(
        parse_any(br#"{"service_name":"x","data":{}}"#).unwrap_err(),
        EnvelopeError::MissingField("sign")
    );
    assert_eq!(
        parse_any(br#"{"data":{}}"#).unwrap_err(),
        EnvelopeError::MissingField("sign")
    );
}

#[test]
fn null_token_and_union_id_read_as_absent() {
    let env = sdk_http::Envelope::parse(
        format!(r#"{{"service_name":"x","sign":"{SIGN}","token":null,"data":{{}}}}"#).as_bytes(),
    )
    .map(|e| e.token.is_none());
    assert_eq!(env, Ok(true));
    let body = format!(r#"{{"sign":"{SIGN}","union_id":null,"data":{{}}}}"#);
    assert!(newapi::Envelope::parse(body.as_bytes())
        .unwrap()
        .union_id
        .is_none());
}

#[test]
fn unknown_fields_are_ignored() {
    let body = format!(
        r#"{{"extra":[1,{{"sign":2}}],"service_name":"x","sign":"{SIGN}","data":{DATA},"ts":1}}"#
    );
    sdk_http::Envelope::parse(body.as_bytes())
        .unwrap()
        .verify(&key())
        .unwrap();
}

// ---------------------------------------------------------------- typed errors

#[test]
fn error_empty_body() {
    assert_eq!(sdk_err(b""), EnvelopeError::Empty);
    assert_eq!(new_err(b" \r\n\t"), EnvelopeError::Empty);
    assert_eq!(newapi::decode_body(b"").unwrap_err(), EnvelopeError::Empty);
    assert_eq!(parse_any(b"\n\n").unwrap_err(), EnvelopeError::Empty);
}

#[test]
fn error_bad_json_has_position() {
    let body = b"{\"sign\":\"x\",\n  \"data\": {]}";
    match sdk_err(body) {
        EnvelopeError::Json {
            line,
            column,
            message,
        } => {
            assert_eq!((line, column), (2, 12));
            assert!(!message.contains("line"), "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected Json, got {other:?}"),
    }
    let shown = sdk_err(body).to_string();
    assert!(
        shown.starts_with("invalid JSON at line 2, column 12: "),
        "{shown}"
    );
    // Not JSON at all, and not starting with '{'.
    assert!(matches!(
        new_err(b"nul"),
        EnvelopeError::Json { line: 1, .. }
    ));
    // Trailing garbage after the object.
    assert!(matches!(
        new_err(br#"{"data":{},"sign":"x"} x"#),
        EnvelopeError::Json {
            line: 1,
            column: 24,
            ..
        }
    ));
}

#[test]
fn error_truncated_body() {
    let cut = &OFFICIAL_BODY.as_bytes()[..OFFICIAL_BODY.len() - 5];
    match sdk_err(cut) {
        EnvelopeError::Json { line, column, .. } => {
            assert_eq!(line, 1);
            assert_eq!(column, cut.len());
        }
        other => panic!("expected Json, got {other:?}"),
    }
    assert!(matches!(new_err(b"{"), EnvelopeError::Json { .. }));
    assert!(matches!(
        parse_any(b"{\"data\":{\"a\":\"b").unwrap_err(),
        EnvelopeError::Json { .. }
    ));
}

#[test]
fn error_invalid_utf8() {
    let mut body = OFFICIAL_BODY.as_bytes().to_vec();
    let at = body.len() - 10; // inside the local_id string
    body[at] = 0xff;
    assert_eq!(
        sdk_err(&body),
        EnvelopeError::Json {
            line: 1,
            column: at + 1,
            message: "invalid UTF-8".into()
        }
    );
}

#[test]
fn error_not_an_object() {
    for body in [&b"[1,2]"[..], b"\"str\"", b"42", b"null", b"true", b" []"] {
        assert_eq!(sdk_err(body), EnvelopeError::NotAnObject, "{body:?}");
        assert_eq!(new_err(body), EnvelopeError::NotAnObject, "{body:?}");
    }
}

#[test]
fn error_missing_fields() {
    let d = DATA;
    assert_eq!(
        sdk_err(format!(r#"{{"service_name":"x","data":{d}}}"#).as_bytes()),
        EnvelopeError::MissingField("sign")
    );
    assert_eq!(
        sdk_err(format!(r#"{{"service_name":"x","sign":"{SIGN}"}}"#).as_bytes()),
        EnvelopeError::MissingField("data")
    );
    assert_eq!(
        sdk_err(format!(r#"{{"sign":"{SIGN}","data":{d}}}"#).as_bytes()),
        EnvelopeError::MissingField("service_name")
    );
    assert_eq!(
        new_err(format!(r#"{{"data":{d}}}"#).as_bytes()),
        EnvelopeError::MissingField("sign")
    );
    assert_eq!(
        new_err(format!(r#"{{"sign":"{SIGN}"}}"#).as_bytes()),
        EnvelopeError::MissingField("data")
    );
    assert_eq!(new_err(b"{}"), EnvelopeError::MissingField("data"));
}

#[test]
fn error_data_not_object() {
    for data in [r#""{\"a\":1}""#, "[1,2]", "null", "3", "false"] {
        let body = format!(r#"{{"service_name":"x","sign":"{SIGN}","data":{data}}}"#);
        assert_eq!(
            sdk_err(body.as_bytes()),
            EnvelopeError::DataNotObject,
            "{data}"
        );
        let body = format!(r#"{{"sign":"{SIGN}","data":{data}}}"#);
        assert_eq!(
            new_err(body.as_bytes()),
            EnvelopeError::DataNotObject,
            "{data}"
        );
    }
}

#[test]
fn error_wrong_types() {
    let wrong = |field, expected| EnvelopeError::WrongType { field, expected };
    assert_eq!(
        sdk_err(br#"{"service_name":"x","sign":12345,"data":{}}"#),
        wrong("sign", "string")
    );
    assert_eq!(
        new_err(br#"{"sign":null,"data":{}}"#),
        wrong("sign", "string")
    );
    assert_eq!(
        sdk_err(br#"{"service_name":1,"sign":"x","data":{}}"#),
        wrong("service_name", "string")
    );
    assert_eq!(
        sdk_err(br#"{"service_name":"x","sign":"x","token":{},"data":{}}"#),
        wrong("token", "string")
    );
    assert_eq!(
        new_err(br#"{"sign":"x","data":{},"union_id":true}"#),
        wrong("union_id", "number or string")
    );
    assert_eq!(
        new_err(br#"{"sign":"x","data":{},"union_id":[1]}"#),
        wrong("union_id", "number or string")
    );
}

#[test]
fn error_duplicate_field() {
    let body = format!(r#"{{"data":{{}},"sign":"{SIGN}","data":{DATA}}}"#);
    assert_eq!(
        new_err(body.as_bytes()),
        EnvelopeError::DuplicateField("data".into())
    );
    let body = format!(r#"{{"service_name":"x","sign":"{SIGN}","sign":"{SIGN}","data":{DATA}}}"#);
    assert_eq!(
        sdk_err(body.as_bytes()),
        EnvelopeError::DuplicateField("sign".into())
    );
    // An escaped spelling of the same key is the same key.
    let body = format!(r#"{{"sign":"{SIGN}","\u0073ign":"{SIGN}","data":{{}}}}"#);
    assert_eq!(
        new_err(body.as_bytes()),
        EnvelopeError::DuplicateField("sign".into())
    );
    // Unknown keys may not repeat either.
    assert_eq!(
        new_err(br#"{"x":1,"sign":"s","x":2,"data":{}}"#),
        EnvelopeError::DuplicateField("x".into())
    );
}

#[test]
fn error_bad_base64() {
    for body in [&b"not base64!"[..], b"eyJkYXRhIjp7fX0=x", b"=abc", b"A"] {
        let err = newapi::decode_body(body).unwrap_err();
        assert!(
            matches!(err, EnvelopeError::Base64 { .. }),
            "{body:?}: {err:?}"
        );
        assert!(matches!(parse_any(body), Err(EnvelopeError::Base64 { .. })));
    }
    // Valid base64 of something that is not JSON is a JSON error.
    let body = b64(b"hello");
    assert!(matches!(
        parse_any(body.as_bytes()).unwrap_err(),
        EnvelopeError::Json { .. }
    ));
}

#[test]
fn build_rejects_bad_data() {
    for data in ["[1]", "\"s\"", "1", "null"] {
        assert_eq!(
            sdk_http::build("x", None, data, &key()).unwrap_err(),
            EnvelopeError::DataNotObject
        );
        assert_eq!(
            newapi::build(data, &key(), None, BodyEncoding::Json).unwrap_err(),
            EnvelopeError::DataNotObject
        );
    }
    for data in ["", "{", "{\"a\":}", "{} {}"] {
        assert!(matches!(
            sdk_http::build("x", None, data, &key()).unwrap_err(),
            EnvelopeError::Json { .. }
        ));
        assert!(matches!(
            newapi::build(data, &key(), Some(1), BodyEncoding::Base64).unwrap_err(),
            EnvelopeError::Json { .. }
        ));
    }
}

#[test]
fn error_messages_are_readable() {
    assert_eq!(
        EnvelopeError::MissingField("sign").to_string(),
        "missing field `sign`"
    );
    assert_eq!(
        VerifyError::MalformedSign(SignFormatError::WrongLength { len: 31 }).to_string(),
        "malformed sign: sign must be 32 hex characters, got 31"
    );
    assert_eq!(
        EnvelopeError::WrongType {
            field: "sign",
            expected: "string"
        }
        .to_string(),
        "field `sign` must be a string"
    );
}

// ---------------------------------------------------------------- properties

/// JSON objects made of string and number fields with arbitrary keys.
fn json_object() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<String>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
    ];
    proptest::collection::vec((any::<String>(), value), 0..8)
        .prop_map(|fields| serde_json::Value::Object(fields.into_iter().collect()).to_string())
}

proptest! {
    #[test]
    fn any_single_byte_flip_is_detected(
        data in json_object(),
        index in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let key = key();
        let good = sign(data.as_bytes(), &key).to_string();
        prop_assert_eq!(verify(data.as_bytes(), &good, &key), Ok(()));

        let mut tampered = data.clone().into_bytes();
        let at = index.index(tampered.len());
        tampered[at] ^= mask;
        let is_mismatch = matches!(
            verify(&tampered, &good, &key),
            Err(VerifyError::Mismatch { .. })
        );
        prop_assert!(is_mismatch);

        // The same flip inside a built envelope: either the body no longer
        // parses, or it parses and fails verification.
        let body = sdk_http::build("svc", Some("t"), &data, &key).unwrap();
        let start = body.len() - 1 - data.len();
        prop_assert_eq!(&body[start..body.len() - 1], data.as_bytes());
        let mut body = body;
        body[start + at] ^= mask;
        if let Ok(env) = sdk_http::Envelope::parse(&body) {
            let is_mismatch = matches!(env.verify(&key), Err(VerifyError::Mismatch { .. }));
            prop_assert!(is_mismatch);
        }
    }

    #[test]
    fn round_trip_preserves_data_bytes(data in json_object(), union_id in any::<Option<i64>>()) {
        let key = key();
        let body = sdk_http::build("svc", None, &data, &key).unwrap();
        let env = sdk_http::Envelope::parse(&body).unwrap();
        prop_assert_eq!(env.data_bytes(), data.as_bytes());
        prop_assert_eq!(env.verify(&key), Ok(()));
        for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
            let body = newapi::build(&data, &key, union_id, encoding).unwrap();
            let any = parse_any(&body).unwrap();
            prop_assert_eq!(any.encoding(), encoding);
            prop_assert_eq!(any.envelope().data_bytes(), data.as_bytes());
            prop_assert_eq!(any.verify(&key), Ok(()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&body);
        exercise(b64(&body).as_bytes());
    }

    #[test]
    fn json_like_text_never_panics(body in r#"[ \n{}\[\]":,0-9a-z\\.\-]{0,200}"#) {
        exercise(body.as_bytes());
        exercise(b64(body.as_bytes()).as_bytes());
    }

    #[test]
    fn mangled_envelopes_never_panic(
        data in json_object(),
        cut in any::<prop::sample::Index>(),
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let body = sdk_http::build("svc", Some("t"), &data, &key()).unwrap();
        exercise(&body[..cut.index(body.len() + 1)]);
        let mut flipped = body.clone();
        let at = index.index(flipped.len());
        flipped[at] = byte;
        exercise(&flipped);
    }
}

/// Runs every parser on `body`; only a panic can fail this.
fn exercise(body: &[u8]) {
    let key = key();
    let _ = newapi::decode_body(body);
    if let Ok(env) = sdk_http::Envelope::parse(body) {
        let _ = env.verify(&key);
    }
    if let Ok(env) = newapi::Envelope::parse(body) {
        let _ = env.verify(&key);
    }
    if let Ok(any) = parse_any(body) {
        let env = any.envelope();
        let _ = (env.sign(), env.data_bytes(), env.verify(&key));
    }
}

#[test]
fn relay_keys_are_kept_in_order_and_outside_the_sign() {
    // The platform's TCP relay adds routing keys around the signed envelope
    // (seen in a captured 2024 query_price envelope: msg_id, messageId,
    // mqttMessageId, tcpTopic, server_ip, client_ip).
    let body = br#"{"msg_id":"m-17","service_name":"login","messageId":9,"sign":"CB649425CB5548A375099103AB04CC1E","data":{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"},"tcpTopic":"bolink/21835","server_ip":"10.0.0.2","client_ip":null}"#;
    let env = sdk_http::Envelope::parse(body).unwrap();
    env.verify(&Key::new("8403A41ED5EF20BC")).unwrap();
    let extra: Vec<(&str, &str)> = env
        .extra
        .iter()
        .map(|(k, v)| (k.as_ref(), v.get()))
        .collect();
    assert_eq!(
        extra,
        [
            ("msg_id", r#""m-17""#),
            ("messageId", "9"),
            ("tcpTopic", r#""bolink/21835""#),
            ("server_ip", r#""10.0.0.2""#),
            ("client_ip", "null"),
        ]
    );
    // A repeated relay key is as ambiguous as a repeated known one.
    let repeated = br#"{"msg_id":1,"msg_id":2,"service_name":"login","sign":"CB649425CB5548A375099103AB04CC1E","data":{}}"#;
    assert_eq!(
        sdk_err(repeated),
        EnvelopeError::DuplicateField("msg_id".into())
    );
    let new = br#"{"data":{"a":1},"sign":"x","union_id":200208,"tcpTopic":"t"}"#;
    let env = newapi::Envelope::parse(new).unwrap();
    assert_eq!(env.extra.len(), 1);
    assert_eq!(env.extra[0].0, "tcpTopic");
}

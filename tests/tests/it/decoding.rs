//! Decoding and validation behaviour on hand-picked inputs: leniency, lengths
//! in characters, open enums, every violation at once, with paths.

use bolink_types::enums::{PayScene, State};
use bolink_types::sdk::query_price;
use bolink_types::{CodeEnum, CodeRef, DecodeError, Message, Object, ViolationKind};

fn violations(bytes: &[u8]) -> Vec<String> {
    match query_price::SdkReturn::decode(bytes) {
        Ok(_) => Vec::new(),
        Err(DecodeError::Invalid { report, .. }) => {
            report.violations.iter().map(|v| v.to_string()).collect()
        }
        Err(other) => panic!("{other}"),
    }
}

const BASE: &str = r#""service_name":"query_price","data_target":"bolink","state":1,"park_id":"21840","order_id":"38320","price":"0.01","duration":1"#;

#[test]
fn nested_paths_name_the_element() {
    let long = "x".repeat(70);
    let text = format!(
        r#"{{{BASE},"discount_info":{{"member_id":"m","coupon_list":[{{"coupon_id":"a","amount":1,"unit":1}},{{"coupon_id":"{long}","amount":1,"unit":1}}]}}}}"#
    );
    assert_eq!(
        violations(text.as_bytes()),
        ["discount_info.coupon_list[1].coupon_id: 70 characters, at most 64"]
    );
}

#[test]
fn every_violation_is_reported_at_once() {
    let text = r#"{"service_name":"query_price","data_target":"cloud","state":0,"park_id":{},"order_id":"1","price":"abc","in_time":1,"isEscape":"9"}"#;
    assert_eq!(
        violations(text.as_bytes()),
        [
            "data_target: must be \"bolink\", found \"cloud\"",
            "park_id: expected a string, found an object",
            "price: expected an amount of money, found string \"abc\"",
            "duration: required",
            // Rules run on what could be read, even next to type errors.
            "errmsg: required when state is 0",
            "car_number: required together with in_time",
        ]
    );
}

#[test]
fn rules_are_checked_after_types() {
    let text = format!(r#"{{{BASE},"state":0,"in_time":1561676330}}"#).replace(r#""state":1,"#, "");
    assert_eq!(
        violations(text.as_bytes()),
        [
            "errmsg: required when state is 0",
            "car_number: required together with in_time",
        ]
    );
}

#[test]
fn lengths_count_characters_not_bytes() {
    // 京HP00G6 is 7 characters and 9 bytes; the limit is 8 characters.
    let ok = r#"{"service_name":"query_price","park_id":"1","pay_scene":0,"car_number":"京HP00G6","order_id":"1"}"#;
    assert!(query_price::Request::decode(ok.as_bytes()).is_ok());
    // Eight 4-byte characters are 8 characters: accepted.
    let four = "𠀀".repeat(8);
    let ok = format!(
        r#"{{"service_name":"query_price","park_id":"1","pay_scene":0,"car_number":"{four}","order_id":"1"}}"#
    );
    assert!(query_price::Request::decode(ok.as_bytes()).is_ok());
    let nine = "京".repeat(9);
    let bad = format!(
        r#"{{"service_name":"query_price","park_id":"1","pay_scene":0,"car_number":"{nine}","order_id":"1"}}"#
    );
    let err = query_price::Request::decode(bad.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "car_number: 9 characters, at most 8");
}

#[test]
fn numbers_as_strings_and_strings_as_numbers_are_accepted() {
    let text = br#"{"service_name":"query_price","park_id":20003,"pay_scene":"2","car_number":"A","order_id":15,"out_channel_id":"A1","query_order_no":"1"}"#;
    let request = query_price::Request::decode(text).unwrap();
    assert_eq!(request.park_id, "20003");
    assert_eq!(request.order_id.as_deref(), Some("15"));
    assert_eq!(request.pay_scene, PayScene::UnplatedSettlement);
    // Encoding writes the spec's wire types.
    let encoded = String::from_utf8(request.encode()).unwrap();
    assert!(encoded.contains(r#""park_id":"20003""#), "{encoded}");
    assert!(encoded.contains(r#""pay_scene":2"#), "{encoded}");
}

#[test]
fn unknown_codes_round_trip_unchanged() {
    let text = br#"{"service_name":"query_price","park_id":"1","pay_scene":7,"car_number":"A","order_id":"1"}"#;
    let request = query_price::Request::decode(text).unwrap();
    assert_eq!(request.pay_scene.code(), CodeRef::Int(7));
    assert!(matches!(request.pay_scene, PayScene::Unknown(_)));
    assert!(String::from_utf8(request.encode())
        .unwrap()
        .contains(r#""pay_scene":7"#));
    assert_eq!(State::from_code(CodeRef::Int(1)), Some(State::Success));
}

#[test]
fn unknown_fields_are_tolerated_and_null_is_absent() {
    let text = br#"{"service_name":"query_price","park_id":"1","pay_scene":0,"car_number":"A","order_id":"1","licence":null,"future_field":{"a":[1,2]}}"#;
    let request = query_price::Request::decode(text).unwrap();
    assert_eq!(request.licence, None);
}

#[test]
fn duplicate_keys_and_wrong_service_names_are_violations() {
    let dup = br#"{"service_name":"query_price","park_id":"1","park_id":"2","pay_scene":0,"car_number":"A","order_id":"1"}"#;
    assert_eq!(
        query_price::Request::decode(dup).unwrap_err().to_string(),
        "park_id: appears more than once"
    );
    let other = br#"{"service_name":"outpark","park_id":"1","pay_scene":0,"car_number":"A","order_id":"1"}"#;
    assert_eq!(
        query_price::Request::decode(other).unwrap_err().to_string(),
        "service_name: must be \"query_price\", found \"outpark\""
    );
}

#[test]
fn malformed_and_truncated_json_are_syntax_errors_with_place() {
    for bad in [
        &b"{\"service_name\":"[..],
        b"",
        b"[1,2",
        b"{\"a\":1}x",
        b"\xff\xfe",
    ] {
        match query_price::Request::decode(bad) {
            Err(DecodeError::Syntax { line, column, .. }) => {
                assert!(line >= 1 && column <= bad.len() + 1)
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
        }
    }
    // A JSON value that is not an object is a violation, not a syntax error.
    let err = query_price::Request::decode(b"[1]").unwrap_err();
    assert!(
        matches!(&err, DecodeError::Invalid { report, .. } if report.violations[0].kind == ViolationKind::WrongType { expected: "an object", found: "an array".into() }),
        "{err:?}"
    );
}

#[test]
fn built_values_validate_and_encode() {
    let mut answer =
        query_price::SdkReturn::new(State::Success, 50, "20003", "10000", "4.0".parse().unwrap());
    assert!(answer.validate().is_ok());
    answer.state = State::Failure;
    let report = answer.validate().unwrap_err();
    assert_eq!(report.to_string(), "errmsg: required when state is 0");
    answer.errmsg = Some("无在场车辆".into());
    let text = String::from_utf8(answer.encode()).unwrap();
    assert_eq!(
        text,
        r#"{"service_name":"query_price","data_target":"bolink","state":0,"duration":50,"park_id":"20003","order_id":"10000","errmsg":"无在场车辆","price":"4.0"}"#
    );
}

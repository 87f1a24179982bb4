//! Signing and typed decoding together: an envelope built and signed on one
//! side is verified over its received bytes and decoded on the other.

use bolink_sign::{sdk_http, Key, VerifyError};
use bolink_types::{sdk, Role};

const KEY: &str = "8403A41ED5EF20BC";
const DATA: &str = r#"{"query_order_no":"218402018060000000p-863","park_id":"20003","car_number":"62000F9","service_name":"query_price","order_id":"15000001195","pay_scene":0,"licence":"AD42F3B"}"#;

#[test]
fn build_verify_decode() {
    let key = Key::new(KEY);
    let body = sdk_http::build(
        "query_price",
        Some("b1ce1026cb794d8ca515159b4b5cecea"),
        DATA,
        &key,
    )
    .unwrap();
    let env = sdk_http::Envelope::parse(&body).unwrap();
    env.verify(&key).unwrap();
    let message =
        sdk::Message::decode_as(Role::Request, &env.service_name, env.data_bytes()).unwrap();
    assert!(matches!(
        message,
        sdk::Message::Request(sdk::Request::QueryPrice(_))
    ));
}

#[test]
fn tampered_data_is_rejected_before_decoding() {
    let key = Key::new(KEY);
    let body = sdk_http::build("query_price", None, DATA, &key).unwrap();
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("62000F9", "62000F8");
    let env = sdk_http::Envelope::parse(tampered.as_bytes()).unwrap();
    assert!(matches!(
        env.verify(&key),
        Err(VerifyError::Mismatch { .. })
    ));
}

#[test]
fn a_typed_answer_is_signed_over_its_exact_encoding() {
    let key = Key::new(KEY);
    let answer = sdk::query_price::HttpReturn::new(
        bolink_types::enums::State::Success,
        50,
        "20003",
        "10000",
        "4.0".parse().unwrap(),
    );
    let data = String::from_utf8(bolink_types::Message::encode(&answer)).unwrap();
    let body = sdk_http::build("query_price", Some("t"), &data, &key).unwrap();
    let env = sdk_http::Envelope::parse(&body).unwrap();
    assert_eq!(env.data_bytes(), data.as_bytes());
    env.verify(&key).unwrap();
    assert_eq!(
        bolink_sign::sign(data.as_bytes(), &key).to_string().len(),
        32
    );
}

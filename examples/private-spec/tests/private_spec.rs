//! The private interface behaves as bolink-types' own: decoded and
//! validated from its table, signed and dispatched through bolink-sdk,
//! fuzzed with the public strategies.

use std::time::Instant;

use bolink_example_private_spec::private::enums::{ChargeMode, State};
use bolink_example_private_spec::private::sdk::query_charge_rule::{Request, SdkReturn};
use bolink_example_private_spec::private::SERVICES;
use bolink_example_private_spec::Lot;
use bolink_sdk::{Credentials, OtherAnswer, Session};
use bolink_sign::{sdk_http, Key};
use bolink_types::{decode, strategy, DecodeError, Message};
use proptest::prelude::*;

const KEY: &str = "8403A41ED5EF20BC";

#[test]
fn the_specs_examples_decode_and_a_broken_message_names_its_fields() {
    assert_eq!(SERVICES, ["query_charge_rule", "coupon_notice"]);
    let request: Request = decode(
        r#"{"service_name":"query_charge_rule","park_id":"21835","car_type":"小车"}"#.as_bytes(),
    )
    .unwrap();
    assert_eq!(request.park_id, "21835");
    let answer: SdkReturn = decode(
        br#"{"service_name":"query_charge_rule","state":1,"park_id":"21835","mode":1,"price_per_hour":"5.00"}"#,
    )
    .unwrap();
    assert_eq!(answer.mode, ChargeMode::PerHour);
    // Read as the platform's Java readers read: a number in a text field is a slip, not an error.
    let lenient =
        Request::decode(br#"{"service_name":"query_charge_rule","park_id":21835}"#).unwrap();
    assert_eq!(lenient.park_id, "21835");

    let Err(DecodeError::Invalid { report, .. }) = SdkReturn::decode(
        br#"{"service_name":"query_charge_rule","state":0,"park_id":"2183500000000000000000000","mode":1}"#,
    ) else {
        panic!("a broken answer was accepted");
    };
    assert_eq!(
        report.to_string(),
        "park_id: 25 characters, at most 24\n\
         price_per_hour: required when mode is 1\n\
         errmsg: required when state is 0"
    );
}

#[test]
fn an_answer_that_breaks_its_table_is_never_made() {
    let answer = SdkReturn::new(State::Success, "21835", ChargeMode::PerHour);
    let report = OtherAnswer::new(&answer).unwrap_err();
    assert_eq!(
        report.to_string(),
        "price_per_hour: required when mode is 1"
    );
}

fn session() -> Session {
    let mut session = Session::new(Credentials::new("200208", "21835", "lane", Key::new(KEY)));
    session
        .accept_login_reply(br#"{"state":1,"token":"t0"}"#, Instant::now())
        .unwrap();
    session
}

fn envelope(service_name: &str, data: &str) -> Vec<u8> {
    sdk_http::build(service_name, None, data, &Key::new(KEY)).unwrap()
}

#[tokio::test]
async fn the_platforms_query_reaches_the_lot_and_is_answered_signed() {
    let body = envelope(
        "query_charge_rule",
        r#"{"service_name":"query_charge_rule","park_id":"21835","car_type":"小车"}"#,
    );
    let done = session().answer(&Lot, &body, Instant::now()).await.unwrap();
    assert_eq!(done.refusal, None);
    let answer: SdkReturn = decode(&done.answer).unwrap();
    assert_eq!(
        answer.price_per_hour.map(|m| m.to_string()).as_deref(),
        Some("5.00")
    );
    // The answer goes back signed with the lot's key, as any answer does.
    let sealed = sdk_http::Envelope::parse(&done.envelope).unwrap();
    sealed.verify(&Key::new(KEY)).unwrap();
    assert_eq!(sealed.data_bytes(), done.answer.as_slice());
}

#[tokio::test]
async fn a_broken_private_request_and_an_unknown_service_are_refused() {
    let broken = envelope(
        "query_charge_rule",
        r#"{"service_name":"query_charge_rule"}"#,
    );
    let done = session()
        .answer(&Lot, &broken, Instant::now())
        .await
        .unwrap();
    let refusal = done.refusal.expect("refused");
    assert!(refusal.errmsg.contains("park_id: required"), "{refusal:?}");

    let unknown = envelope("no_such_service", r#"{"service_name":"no_such_service"}"#);
    let done = session()
        .answer(&Lot, &unknown, Instant::now())
        .await
        .unwrap();
    assert_eq!(
        done.refusal.map(|r| r.errmsg).as_deref(),
        Some("not supported")
    );

    // A forged sign never reaches the handler.
    let forged = sdk_http::build(
        "query_charge_rule",
        None,
        r#"{"service_name":"query_charge_rule","park_id":"21835"}"#,
        &Key::new("another key"),
    )
    .unwrap();
    assert!(session()
        .answer(&Lot, &forged, Instant::now())
        .await
        .is_err());
}

proptest! {
    /// Whatever the table allows the platform to ask, the lot's answer satisfies its own table.
    #[test]
    fn every_valid_query_gets_a_valid_answer(request in strategy::valid::<Request>()) {
        let answer = Lot.charge_rule(&request);
        prop_assert!(OtherAnswer::new(&answer).is_ok());
        prop_assert_eq!(answer.park_id, request.park_id);
    }

    /// Every request broken by one mutation is refused, naming the field.
    #[test]
    fn every_broken_query_is_refused_naming_the_field(broken in strategy::broken::<Request>()) {
        let error = decode::<Request>(&broken.to_bytes()).unwrap_err();
        prop_assert!(error.report().is_some_and(|r| r.has_path(&broken.path)), "{error}");
    }
}

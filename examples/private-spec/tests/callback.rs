//! The private new-API callback behaves as bolink-types' own callbacks:
//! verified, decoded and validated from its table, answered from the
//! vendor's, with forged calls never reaching the handler.

use bolink_example_private_spec::private::enums::State;
use bolink_example_private_spec::private::newapi::coupon_notice::{Request, Response};
use bolink_example_private_spec::Vendor;
use bolink_sdk::newapi::{BodyEncoding, CallbackEndpoint, CallbackOutcome, InboundError};
use bolink_sign::{newapi::build, Key};
use bolink_types::{decode, Message};

const KEY: &str = "8403A41ED5EF20BC";

fn vendor() -> Vendor {
    Vendor {
        park_id: "21835".to_string(),
    }
}

/// The platform's side: a typed notice, signed with the vendor key.
fn call(notice: &Request, key: &str) -> Vec<u8> {
    let data = String::from_utf8(notice.encode()).unwrap();
    build(&data, &Key::new(key), None, BodyEncoding::Json).unwrap()
}

fn notice(park_id: &str, rand: &str) -> Request {
    Request::new(200208, park_id, "c-20261202-1", rand).car_number("京A12345")
}

#[tokio::test]
async fn a_claimed_coupon_reaches_the_vendor_and_is_answered_from_its_table() {
    let endpoint = CallbackEndpoint::new(Key::new(KEY));
    let reply = endpoint
        .answer(
            &vendor(),
            "/bolink/callback",
            &call(&notice("21835", "0.1"), KEY),
        )
        .await;
    assert!(
        matches!(&reply.outcome, CallbackOutcome::Other { message, refusal: None, .. } if message.is::<Request>()),
        "{:?}",
        reply.outcome
    );
    let answer: Response = decode(&reply.body).unwrap();
    assert_eq!(answer.state, State::Success);

    // Another park's coupon: the vendor's own refusal, valid against its table.
    let reply = endpoint
        .answer(
            &vendor(),
            "/bolink/callback",
            &call(&notice("10001", "0.2"), KEY),
        )
        .await;
    let answer: Response = decode(&reply.body).unwrap();
    assert_eq!(
        (answer.state, answer.errmsg.as_deref()),
        (State::Failure, Some("not a park of ours"))
    );
}

#[tokio::test]
async fn a_broken_notice_is_refused_naming_the_field_and_a_forged_one_never_arrives() {
    let endpoint = CallbackEndpoint::new(Key::new(KEY));
    let broken = build(
        r#"{"service_name":"coupon_notice","union_id":200208,"park_id":"21835","rand":"0.3"}"#,
        &Key::new(KEY),
        None,
        BodyEncoding::Json,
    )
    .unwrap();
    let reply = endpoint.answer(&vendor(), "/cb", &broken).await;
    let CallbackOutcome::Other {
        refusal: Some(refusal),
        ..
    } = &reply.outcome
    else {
        panic!("{:?}", reply.outcome);
    };
    assert!(
        refusal.errmsg.contains("coupon_id: required"),
        "{refusal:?}"
    );

    let forged = call(&notice("21835", "0.4"), "not the vendor key");
    let reply = endpoint.answer(&vendor(), "/cb", &forged).await;
    assert!(matches!(
        reply.outcome,
        CallbackOutcome::Rejected(InboundError::WrongSign(_))
    ));
}

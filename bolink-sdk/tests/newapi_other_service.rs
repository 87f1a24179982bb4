//! A signed new-API callback of a service bolink-types does not specify
//! reaches `CallbackHandler::other_service`, with the same replay and retry
//! handling as the services it does specify; unsigned or forged ones never
//! do.

use std::sync::Mutex;

use bolink_sdk::newapi::{BodyEncoding, CallbackEndpoint, CallbackOutcome, InboundError};
use bolink_sdk::{Answer, CallbackHandler, OtherAnswer, OtherService, Refusal};
use bolink_sign::{newapi::build, Key};
use bolink_types::enums::State;
use bolink_types::newapi::notice_car_owner;

const KEY: &str = "8403A41ED5EF20BC";

/// Answers every service of another spec with `{"state":1,...}`.
#[derive(Default)]
struct Vendor {
    seen: Mutex<Vec<OtherService>>,
}

impl CallbackHandler for Vendor {
    async fn other_service(&self, message: OtherService) -> Answer<OtherAnswer> {
        self.seen.lock().unwrap().push(message);
        // Any table of the vendor's own will do; this one has `state`.
        let answer = notice_car_owner::Response::new(State::Success);
        OtherAnswer::new(&answer).map_err(|report| Refusal::new(report.to_string()))
    }
}

/// A handler that offers nothing.
struct Nothing;
impl CallbackHandler for Nothing {}

fn body(data: &str, key: &str) -> Vec<u8> {
    build(data, &Key::new(key), Some(200208), BodyEncoding::Json).unwrap()
}

fn answer<H: CallbackHandler>(handler: &H, body: &[u8]) -> bolink_sdk::newapi::CallbackReply {
    let endpoint = CallbackEndpoint::new(Key::new(KEY));
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(endpoint.answer(handler, "/bolink/callback", body))
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

const COUPON: &str =
    r#"{"service_name":"coupon_notice","park_id":"21835","coupon_id":"c-1","rand":"0.12"}"#;

#[test]
fn a_signed_callback_of_another_spec_reaches_the_handler_with_its_signed_bytes() {
    let vendor = Vendor::default();
    let reply = answer(&vendor, &body(COUPON, KEY));
    let CallbackOutcome::Other {
        message,
        refusal: None,
        repeated: false,
    } = &reply.outcome
    else {
        panic!("{:?}", reply.outcome);
    };
    assert_eq!(message.service_name, "coupon_notice");
    assert_eq!(message.data, COUPON.as_bytes());
    assert_eq!(json(&reply.body)["state"], 1);
    assert_eq!(vendor.seen.lock().unwrap().len(), 1);
}

#[test]
fn without_a_handler_for_it_the_platform_is_told_not_supported() {
    let reply = answer(&Nothing, &body(COUPON, KEY));
    assert!(
        matches!(&reply.outcome, CallbackOutcome::Other { refusal: Some(r), .. } if r.errmsg == "not supported"),
        "{:?}",
        reply.outcome
    );
    let answer = json(&reply.body);
    assert_eq!(
        (answer["state"].as_i64(), answer["errmsg"].as_str()),
        (Some(0), Some("not supported"))
    );
    assert_eq!(answer["service_name"], "coupon_notice");
}

#[test]
fn retries_are_answered_once_and_a_used_rand_is_refused() {
    let vendor = Vendor::default();
    let endpoint = CallbackEndpoint::new(Key::new(KEY));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let call = |data: &str| runtime.block_on(endpoint.answer(&vendor, "/cb", &body(data, KEY)));
    // Without a rand, the platform's call again (it did not read the
    // answer) gets the same answer, the handler not asked again.
    let paid = r#"{"service_name":"coupon_paid","park_id":"21835","coupon_id":"c-1"}"#;
    let first = call(paid);
    let again = call(paid);
    assert!(matches!(
        again.outcome,
        CallbackOutcome::Other { repeated: true, .. }
    ));
    assert_eq!(again.body, first.body);
    // A rand may not repeat (5.2's rule, for every callback that has one):
    // the same message again, or another under a used rand, is illegal.
    call(COUPON);
    for reused in [COUPON.to_string(), COUPON.replace("c-1", "c-2")] {
        let replayed = call(&reused);
        assert!(
            matches!(&replayed.outcome, CallbackOutcome::Rejected(InboundError::Replayed { key, .. }) if key == "coupon_notice"),
            "{:?}",
            replayed.outcome
        );
        let answer = json(&replayed.body);
        assert_eq!(
            (answer["state"].as_i64(), answer["service_name"].as_str()),
            (Some(0), Some("coupon_notice"))
        );
    }
    assert_eq!(vendor.seen.lock().unwrap().len(), 2);
}

#[test]
fn forged_unsigned_and_unnamed_ones_never_reach_it() {
    let vendor = Vendor::default();
    let forged = answer(&vendor, &body(COUPON, "not the vendor key"));
    assert!(matches!(
        forged.outcome,
        CallbackOutcome::Rejected(InboundError::WrongSign(_))
    ));
    let unsigned = format!(r#"{{"data":{COUPON}}}"#);
    let unsigned = answer(&vendor, unsigned.as_bytes());
    assert!(matches!(
        unsigned.outcome,
        CallbackOutcome::Rejected(InboundError::MissingSign)
    ));
    // No service_name and a path that names no callback: nothing to hand over.
    let unnamed = answer(&vendor, &body(r#"{"park_id":"21835"}"#, KEY));
    assert!(matches!(
        unnamed.outcome,
        CallbackOutcome::Rejected(InboundError::Unknown {
            service_name: None,
            ..
        })
    ));
    // An interface bolink-types specifies, but not as a callback.
    let upstream = body(
        r#"{"service_name":"park_check","union_id":200208,"park_id":"1","car_number":"A"}"#,
        KEY,
    );
    let upstream = answer(&vendor, &upstream);
    assert!(matches!(
        upstream.outcome,
        CallbackOutcome::Rejected(InboundError::Unknown { .. })
    ));
    assert!(vendor.seen.lock().unwrap().is_empty());
}

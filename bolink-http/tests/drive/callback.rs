//! `POST /_simulator/callback` against vendors' callback servers
//! (`bolink_http::newapi::callback_router` served with `serve`), one
//! answering plain JSON, one signed envelopes.

use bolink_http::newapi::{callback_router, CallbackConfig};
use bolink_http::serve::{serve, ServeConfig};
use bolink_http::simulator::CALLBACK_PATH;
use bolink_sdk::newapi::ReplyForm;
use bolink_sdk::{Answer, CallbackHandler, Refusal};
use bolink_types::enums::State;
use bolink_types::newapi::{nolicence_in_park, outpark};
use serde_json::{json, Value};

use super::*;

/// Books settled payments, refuses others, admits unplated cars.
struct Vendor;

impl CallbackHandler for Vendor {
    async fn outpark(&self, request: outpark::Request) -> Answer<()> {
        match request.state {
            State::Success => Ok(()),
            _ => Err(Refusal::new("payment not settled")),
        }
    }

    async fn nolicence_in_park(
        &self,
        entry: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::Response> {
        Ok(nolicence_in_park::Response::new(
            State::Success,
            entry.car_number,
            entry.timetemp,
        ))
    }
}

async fn vendor(form: ReplyForm) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = callback_router(Vendor, CallbackConfig::new(key()).reply_form(form));
    tokio::spawn(serve(listener, router, ServeConfig::new()));
    format!("http://{addr}")
}

fn payment(state: i64) -> Value {
    json!({"service_name": "outpark", "state": state, "park_id": PARK, "order_id": "o-1",
           "trade_no": "t-1", "pay_type": "wallet", "errmsg": ""})
}

async fn callback(sim: &SimulatorHandle, request: &Value) -> (u16, Value) {
    control(sim, CALLBACK_PATH, request).await
}

#[tokio::test]
async fn a_json_and_a_base64_vendor_are_called_and_judged() {
    let sim = start(fast()).await;
    let plain = vendor(ReplyForm::Plain).await;
    let signed = vendor(ReplyForm::Signed).await;
    for (base, encoding, is_signed) in [(&plain, "json", false), (&signed, "base64", true)] {
        let url = format!("{base}/bolink/outpark");
        let (status, report) = callback(
            &sim,
            &json!({"url": url, "message": payment(1), "encoding": encoding, "key": KEY}),
        )
        .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["status"], 200);
        assert_eq!(report["verdict"], "answered", "{report}");
        assert_eq!(report["signed"], is_signed, "{report}");
        assert_eq!(report["violations"], json!([]));
        let refused = callback(
            &sim,
            &json!({"url": url, "message": payment(0), "encoding": encoding, "key": KEY}),
        )
        .await
        .1;
        assert_eq!(refused["verdict"], "refused", "{refused}");
        assert!(refused["body"].as_str().unwrap().len() > 2);
    }
    // The plain vendor's answer is readable as is.
    let (_, report) = callback(
        &sim,
        &json!({"url": format!("{plain}/bolink/outpark"), "message": payment(0), "key": KEY}),
    )
    .await;
    let body: Value = serde_json::from_str(report["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["errmsg"], "payment not settled");
}

#[tokio::test]
async fn a_wrong_key_is_refused_by_the_vendor_and_a_response_table_is_checked() {
    let sim = start(fast()).await;
    let plain = vendor(ReplyForm::Plain).await;
    let (_, forged) = callback(
        &sim,
        &json!({"url": format!("{plain}/bolink/outpark"), "message": payment(1), "key": "not-the-key"}),
    )
    .await;
    assert_eq!(forged["verdict"], "refused", "{forged}");
    assert!(
        forged["body"].as_str().unwrap().contains("bad sign"),
        "{forged}"
    );
    // 5.7 has a response table: the vendor's answer is valid against it.
    let entry = json!({"service_name": "nolicence_in_park", "car_number": "EA47829", "park_id": PARK,
                       "union_id": 200208, "timetemp": 1_523_215_123, "channel_id": "A1"});
    let (_, report) = callback(
        &sim,
        &json!({"url": format!("{plain}/bolink/nolicence_in_park"), "message": entry, "key": KEY}),
    )
    .await;
    assert_eq!(report["verdict"], "answered", "{report}");
}

#[tokio::test]
async fn no_server_no_answer_and_bad_requests_are_400() {
    let sim = start(fast()).await;
    // Nobody listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (status, report) = callback(
        &sim,
        &json!({"url": format!("http://127.0.0.1:{port}/bolink/outpark"), "message": payment(1), "key": KEY, "timeout_ms": 1000}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(report["verdict"], "no_answer", "{report}");
    assert_eq!(report["status"], Value::Null);
    assert!(report["reason"]
        .as_str()
        .unwrap()
        .contains("the call failed"));
    let url = format!("http://127.0.0.1:{port}/bolink/outpark");
    for (request, expected) in [
        (
            json!({"url": url, "message": {"service_name": "outpark", "state": 1}, "key": KEY}),
            "order_id: required",
        ),
        (
            json!({"url": url, "message": payment(1), "key": KEY, "encoding": "xml"}),
            "neither",
        ),
        (
            json!({"url": "ftp://x/outpark", "message": payment(1), "key": KEY}),
            "not an http(s) URL",
        ),
        (json!({"url": url, "message": payment(1), "key": ""}), "key"),
        (
            json!({"url": "http://127.0.0.1:1/anything", "message": {"park_id": PARK}, "key": KEY}),
            "no callback",
        ),
    ] {
        let (status, answer) = callback(&sim, &request).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer.to_string().contains(expected),
            "{expected}: {answer}"
        );
    }
}

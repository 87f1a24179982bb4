//! Telling the frames on the link apart, and checking that an answer
//! belongs to the frame it is taken for.
//!
//! One link carries the platform's answers to what the lot sent and the
//! messages the platform sends on its own. In the public cloud server
//! (`github:ParkingOS/ParkingOS_cloud`,
//! `parkingos_cloud_api/src/main/java/parkingos/com/bolink/`):
//!
//! * answers are status objects: `{"state":..,"errmsg":..}` plus, for most
//!   uploads, `service_name` and an id echo such as `order_id`
//!   (`service/impl/DoUploadImpl.java` lines 353-359 for in_park, 1015-1021
//!   for out_park); the refusals of the envelope and the token carry
//!   neither (`netty/SensorServerHandler.java` lines 172, 191, 262, 283,
//!   293); the answer to an answer is empty (`backMesg` stays `""` for the
//!   downstream services, lines 348-385);
//! * messages the platform sends are envelopes with `data` (the cloud's
//!   syncs: `{"service_name":"blackuser_sync","data":{..}}`,
//!   `schedule/ParkSchedule.java` lines 136-142) and `sign` where Bolink
//!   signs them, or plain objects without `state` (in_park relayed to the
//!   lot's other charging systems, `SensorServerHandler.java` lines 387-396).
//!
//! So: an empty frame, or an object with `state` and neither `sign` nor
//! `data`, is a status; a status is the answer to the frame in flight
//! unless it names another service (then it is a message of the platform's
//! that happens to carry a `state`, and goes to `receive` with the other
//! objects); what is not a JSON object is junk (the server never writes
//! it).

use bolink_sdk::engine::{Frame, FrameKind};
use serde_json::{Map, Value};

/// What a message frame is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// A status: the answer to the frame in flight if it fits it.
    Status(Answer),
    /// A message from the platform, for `receive`.
    Downstream(Vec<u8>),
    /// Neither; dropped.
    Junk,
}

/// An answer and what it says about the frame it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub body: Vec<u8>,
    pub service_name: Option<String>,
    pub order_id: Option<String>,
    /// `state` >= 1 and a `token`: a successful login's token.
    pub login_token: Option<String>,
}

pub(crate) fn route(content: Vec<u8>) -> Route {
    if content.trim_ascii().is_empty() {
        return Route::Status(Answer {
            body: Vec::new(),
            service_name: None,
            order_id: None,
            login_token: None,
        });
    }
    let Ok(object) = serde_json::from_slice::<Map<String, Value>>(&content) else {
        return Route::Junk;
    };
    if !object.contains_key("state") || object.contains_key("sign") || object.contains_key("data") {
        return Route::Downstream(content);
    }
    let status = bolink_sdk::engine::Status::of(&object);
    let login_token = match object.get("token") {
        Some(Value::String(token)) if status.state.is_some_and(|s| s >= 1) && !token.is_empty() => {
            Some(token.clone())
        }
        _ => None,
    };
    Route::Status(Answer {
        service_name: text(object.get("service_name")),
        order_id: text(object.get("order_id")),
        login_token,
        body: content,
    })
}

/// A string, or a number written as one (fastjson echoes ids either way).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Answers whose `service_name` is not the request's: `upload_car_type` is
/// answered as `car_type_upload` (`DoUploadImpl.java` line 1162).
const ANSWERED_AS: &[(&str, &str)] = &[("upload_car_type", "car_type_upload")];

/// What the answer to one frame must agree with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expect {
    pub kind: FrameKind,
    pub service_name: String,
    /// The token the frame carries (`None` on login).
    pub token: Option<String>,
    /// The `order_id` of the frame's data, if any.
    pub order_id: Option<String>,
}

impl Expect {
    pub(crate) fn of(frame: &Frame) -> Expect {
        let envelope = bolink_sign::sdk_http::Envelope::parse(&frame.body).ok();
        let token = envelope
            .as_ref()
            .and_then(|e| e.token.as_ref().map(|t| t.to_string()));
        let order_id = envelope.as_ref().and_then(|e| {
            let data: Map<String, Value> = serde_json::from_slice(e.data_bytes()).ok()?;
            text(data.get("order_id"))
        });
        Expect {
            kind: frame.kind,
            service_name: frame.service_name.clone(),
            token,
            order_id,
        }
    }

    /// Whether `answer` may be this frame's: it names no service, or this
    /// frame's (as the server names it).
    pub(crate) fn fits(&self, answer: &Answer) -> bool {
        let Some(answered) = &answer.service_name else {
            return true;
        };
        let sent = self.service_name.as_str();
        answered == sent
            || ANSWERED_AS
                .iter()
                .any(|&(s, a)| s == sent && a == answered.as_str())
    }

    /// Why an answer that [fits](Self::fits) this frame's service still
    /// cannot be its answer: it echoes another order. The link is then out
    /// of step.
    pub(crate) fn mismatch(&self, answer: &Answer) -> Option<String> {
        match (&self.order_id, &answer.order_id) {
            (Some(sent), Some(answered)) if sent != answered => Some(format!(
                "an answer for order {answered:?} came for order {sent:?}"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: &str) -> Answer {
        match route(json.as_bytes().to_vec()) {
            Route::Status(answer) => answer,
            other => panic!("{json} routed as {other:?}"),
        }
    }

    #[test]
    fn answers_messages_and_junk_are_told_apart() {
        let login = answer(
            r#"{"state":1,"token":"0123456789abcdef0123456789abcdef","service_name":"login"}"#,
        );
        assert_eq!(
            login.login_token.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            answer(r#"{"state":0,"errmsg":"error:token无效"}"#).login_token,
            None
        );
        assert_eq!(
            answer(r#"{"state":0,"errmsg":"error:登录失败","service_name":"login","token":"x"}"#)
                .login_token,
            None
        );
        assert_eq!(answer("").body, b"");
        assert_eq!(answer(" ").body, b"");
        let downstream = [
            r#"{"service_name":"query_price","sign":"AB","data":{"park_id":"1"}}"#,
            r#"{"service_name":"blackuser_sync","data":{"car_number":"京A1"}}"#,
            r#"{"service_name":"in_park","car_number":"京A1","order_id":"7"}"#,
        ];
        for json in downstream {
            assert_eq!(
                route(json.as_bytes().to_vec()),
                Route::Downstream(json.as_bytes().to_vec())
            );
        }
        for junk in ["not json", "500", "[1]", "\"x\"", "{"] {
            assert_eq!(route(junk.as_bytes().to_vec()), Route::Junk, "{junk}");
        }
    }

    fn expect(service: &str, order: Option<&str>) -> Expect {
        Expect {
            kind: FrameKind::Upload,
            service_name: service.into(),
            token: Some("t".into()),
            order_id: order.map(String::from),
        }
    }

    #[test]
    fn an_answer_must_echo_its_own_frame() {
        let in_park = expect("in_park", Some("o-1"));
        let own = answer(r#"{"service_name":"in_park","state":1,"errmsg":"","order_id":"o-1"}"#);
        assert!(in_park.fits(&own));
        assert_eq!(in_park.mismatch(&own), None);
        for anonymous in [r#"{"state":0,"errmsg":"request_over_times"}"#, ""] {
            let refusal = answer(anonymous);
            assert!(in_park.fits(&refusal));
            assert_eq!(in_park.mismatch(&refusal), None);
        }
        // Another order of the same service: out of step.
        let other_order = answer(r#"{"service_name":"in_park","state":1,"order_id":"o-2"}"#);
        assert!(in_park.fits(&other_order));
        assert!(in_park.mismatch(&other_order).is_some());
        // Another service: not this frame's answer at all.
        assert!(!in_park.fits(&answer(
            r#"{"service_name":"prepay_order","state":1,"order_id":"o-1"}"#
        )));
        // Numbers echo as numbers.
        let numeric = expect("upload_order", Some("24442"));
        assert_eq!(
            numeric.mismatch(&answer(
                r#"{"service_name":"upload_order","state":1,"order_id":24442}"#
            )),
            None
        );
        let car_type = expect("upload_car_type", None);
        assert!(car_type.fits(&answer(
            r#"{"service_name":"car_type_upload","state":1,"cartype_id":"3"}"#
        )));
    }

    #[test]
    fn the_frame_says_its_token_and_order() {
        let data = r#"{"car_number":"京A12345","order_id":"o-9"}"#;
        let body =
            bolink_sign::sdk_http::build("in_park", Some("tok"), data, &bolink_sign::Key::new("k"))
                .unwrap();
        let frame = Frame {
            kind: FrameKind::Upload,
            service_name: "in_park".into(),
            path: None,
            body,
        };
        let expect = Expect::of(&frame);
        assert_eq!(expect.token.as_deref(), Some("tok"));
        assert_eq!(expect.order_id.as_deref(), Some("o-9"));
        let garbage = Frame {
            body: b"not an envelope".to_vec(),
            ..frame
        };
        assert_eq!(Expect::of(&garbage).token, None);
    }
}

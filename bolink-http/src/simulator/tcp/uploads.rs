//! The uploads the public server dispatches, answered as `DoUploadImpl`
//! answers them, and the relay of entries and exits: steps 8 and 10 of the
//! handler's docs.

use serde_json::Value;
use tokio::sync::mpsc;

use super::handler::{emit, refuse, Reply};
use super::resend::text;
use crate::simulator::filing::{count_delivery, file, forces_update, has_entry, Filed};
use crate::simulator::state::{Outbound, SessionLink, SessionRef, State};
use crate::simulator::upload::one_line;

/// The uploads the server dispatches (lines 313-347): the service, the
/// name it answers with, the id it echoes, and its `errmsg` on success.
pub(super) const UPLOADS: &[(&str, &str, Option<&str>, &str)] = &[
    ("in_park", "in_park", Some("order_id"), ""),
    ("out_park", "out_park", Some("order_id"), ""),
    ("upload_order", "upload_order", Some("order_id"), ""),
    ("upload_collector", "upload_collector", Some("user_id"), ""),
    ("work_record", "work_record", Some("uuid"), ""),
    ("upload_liftrod", "upload_liftrod", Some("liftrod_id"), ""),
    ("upload_gate", "upload_gate", Some("channel_id"), "上传成功"),
    (
        "upload_month_member",
        "upload_month_member",
        Some("card_id"),
        "",
    ),
    (
        "upload_month_card",
        "upload_month_card",
        Some("package_id"),
        "",
    ),
    ("month_pay_record", "month_pay_record", Some("card_id"), ""),
    ("upload_car_type", "car_type_upload", Some("cartype_id"), ""),
    (
        "upload_blackuser",
        "upload_blackuser",
        Some("black_uuid"),
        "",
    ),
    ("upload_price", "upload_price", None, ""),
    ("park_log", "park_log", Some("log_id"), ""),
    ("upload_confirm_order", "upload_confirm_order", None, ""),
];

/// An upload the server dispatches (step 8).
#[allow(clippy::too_many_arguments)]
pub(super) fn upload(
    state: &State,
    session: &SessionRef,
    service_name: &str,
    answered_as: &str,
    echo: Option<&str>,
    errmsg: &str,
    bytes: &str,
    value: Value,
) -> Reply {
    let who = Some(session);
    match bolink_types::sdk::Request::decode_as(service_name, bytes.as_bytes()) {
        Ok(_) | Err(bolink_types::DecodeError::UnknownService { .. }) => {}
        Err(e) => {
            let why = format!("error:{}", one_line(&e.to_string()));
            let answer =
                serde_json::json!({"service_name": answered_as, "state": 0, "errmsg": why});
            return refuse(state, who, service_name, answer.to_string(), &why);
        }
    }
    let order_id = text(value.get("order_id"));
    let mut books = state.books();
    if service_name == "in_park" {
        if let Some(order_id) = order_id.as_deref().filter(|o| {
            has_entry(&books, &session.park_id, o) && !forces_update(service_name, &value)
        }) {
            count_delivery(&mut books, &session.park_id, service_name, &value);
            drop(books);
            let errmsg = "该订单已经存在";
            let answer = serde_json::json!({"service_name": "in_park", "state": 0, "errmsg": errmsg, "order_id": order_id});
            return refuse(state, who, service_name, answer.to_string(), errmsg);
        }
    }
    let mut answer = serde_json::json!({"service_name": answered_as, "state": 1, "errmsg": errmsg});
    if let Some(field) = echo {
        if let Some(id) = text(value.get(field)) {
            answer[field] = Value::String(id);
        }
    }
    // The server takes an upload again (it updates its row) and answers 1;
    // the books record it once and count the arrival.
    let outcome = match file(&mut books, &session.park_id, service_name, value) {
        Filed::New => "accepted".to_string(),
        Filed::Again { arrivals } => format!("accepted again (#{arrivals}, recorded once)"),
    };
    drop(books);
    emit(state, who, service_name, outcome);
    Reply::Frame(answer.to_string())
}

/// Relays an entry or exit to the park's other instances on the link whose
/// `local_id` contains `syncdata` (step 10).
pub(super) fn relay(
    state: &State,
    token: &str,
    park_id: &str,
    service_name: &str,
    mut data: Value,
) {
    data["service_name"] = Value::String(service_name.to_string());
    let frame = super::frame(data.to_string().as_bytes());
    let targets: Vec<mpsc::Sender<Outbound>> = state
        .books()
        .sessions
        .iter()
        .filter(|(other, s)| {
            other.as_str() != token && s.instance.0 == park_id && s.instance.1.contains("syncdata")
        })
        .filter_map(|(_, s)| match &s.link {
            SessionLink::Tcp { outbound, .. } => Some(outbound.clone()),
            SessionLink::Http => None,
        })
        .collect();
    for target in targets {
        // A connection that does not read misses it, as `doBackMessage`
        // skips a channel that is not writable.
        let _ = target.try_send(Outbound {
            bytes: frame.clone(),
            written: None,
        });
    }
}

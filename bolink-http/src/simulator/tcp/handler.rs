//! One line of the TCP link, handled as the public server's
//! `SensorServerHandler.handleMessage` handles it, in the same order
//! (ParkingOS_cloud `parkingos_cloud_api/src/main/java/parkingos/com/bolink/`,
//! `netty/SensorServerHandler.java` at HEAD; `DoUploadImpl` is
//! `service/impl/DoUploadImpl.java`):
//!
//! 1. an empty line is ignored (line 69);
//! 2. `0x11` in a line shorter than 6 UTF-16 units is a heartbeat,
//!    answered `0x12` only on a channel that logged in (lines 80-92);
//! 3. a line that is not a JSON object gets no answer: `JSON.parseObject`
//!    throws inside the pool task (line 93);
//! 4. the re-send check ([`super::resend`], lines 132-156), answered
//!    `{"state":0,"errmsg":"数据已处理过...","service_name",order_id,car_number}`;
//!    a `data` it cannot read then is `数据格式错误!` (lines 157-165);
//! 5. no `service_name`: `未识别到service_name标记` (lines 169-178); no
//!    `sign`: `未识别到sign标记` (lines 183-194);
//! 6. `login` (lines 196-255, `doLogin` lines 495-527, `DoUploadImpl.doLogin`
//!    lines 85-169): no `park_id` is `未识别到park_id标记` and a close; a
//!    `park_id` that is neither registered nor a number is `车场不存在`; the
//!    channel is registered before the sign is checked (line 253); an
//!    unknown park is `error:云平台车场不存在`, a wrong sign `error:签名错误`,
//!    both answered with `service_name` login and then the connection is
//!    closed; success is `{"state":1,"token":"<32 hex>","service_name":"login"}`;
//! 7. any other message: no `token` is `未识别到token标记` (lines 257-266);
//!    `checkTokenSign` (`DoUploadImpl` lines 39-83): an unknown token is
//!    `error:token无效`, a wrong sign `error:签名错误`; then the rate,
//!    `request_over_times` (`isHit`, lines 289-296, 404-439); a `data` that
//!    is no object is `data error` (lines 299-309);
//! 8. the uploads the server dispatches (lines 313-347) are answered as
//!    `DoUploadImpl` answers them: `service_name`, `state` 1, `errmsg`, and
//!    the id echo of each (`order_id` for in_park, lines 353-357; out_park
//!    1015-1019; upload_order 1113-1116; `user_id` upload_collector 610-614;
//!    `uuid` work_record 660-663; `liftrod_id` upload_liftrod 710-714;
//!    `channel_id` upload_gate 783-786; `card_id` upload_month_member
//!    861-864 and month_pay_record 1302-1305; `package_id`
//!    upload_month_card 1238-1241; `cartype_id` upload_car_type, answered
//!    as `car_type_upload`, 1161-1164; `black_uuid` upload_blackuser
//!    1369-1372; `log_id` park_log 2362-2365). An in_park whose order
//!    the park already has is refused
//!    `{"service_name":"in_park","state":0,"errmsg":"该订单已经存在","order_id":...}`
//!    (`DoUploadImpl.inPark` at commit 3112259, lines 240-253; commented
//!    out at HEAD, which settles the plate's open orders instead);
//! 9. answers to downstream messages, `upload_ticket` (not implemented) and
//!    unknown services are answered with an empty frame (`backMesg` stays
//!    `""`, lines 341-385);
//! 10. in_park and out_park are relayed, with `service_name`, to the park's
//!     other instances on the link whose `local_id` contains `syncdata`
//!     (lines 387-397, `DoUploadImpl.syncData` lines 2129-2158).
//!
//! The simulator's own additions, marked where they answer: uploads are
//! validated against the spec (a violation is `state` 0 with `error:` and
//! the violations; a service the spec lacks is accepted unchecked), an
//! envelope whose `service_name` is not its data's is refused, and every
//! refusal is booked with its reason.
//!
//! The sign is checked as the server computes it: over its re-serialisation
//! of `data` (fastjson keeps the key order and writes no whitespace: for
//! the compact JSON clients send, the same bytes), compared with
//! `equals` against the upper-case hex, so a lower-case sign is wrong here.

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::login::login;
use super::resend::{is_empty, is_resend, object_of, text};
use super::uploads::{relay, upload, UPLOADS};
use super::wire::{data_text, signed, status};
use crate::simulator::filing::{count_delivery, service_name_mismatch};
use crate::simulator::observe::{Direction, Exchange, Link};
use crate::simulator::state::{Outbound, SessionRef, State, TokenError};
use crate::simulator::upload::{already_processed_json, is_downstream, OVER_TIMES};

/// One connection, as the handler sees it.
pub(crate) struct Conn {
    pub id: u64,
    /// Its writer's queue.
    pub outbound: mpsc::Sender<Outbound>,
    /// The channel key registered at a login (`park_id[_local_id]`): set
    /// before the sign is checked, as the server registers the channel
    /// first; heartbeats are answered once it is set.
    pub channel: Option<String>,
}

/// What to write back for one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Nothing.
    Silent,
    /// One frame (possibly empty: the server's "nothing to say").
    Frame(String),
    /// One frame, then close the connection.
    FrameThenClose(String),
}

/// Answers to the cloud's downstream messages the server reads (lines
/// 348-383), besides the SDK protocol's downstream services.
const CLOUD_ANSWERS: &[&str] = &[
    "month_member_sync",
    "car_type_sync",
    "month_card_sync",
    "blackuser_sync",
    "month_pay_sync",
    "query_prodprice",
    "lock_car",
    "collector_sync",
    "operate_liftrod",
    "deliver_ticket",
    "confirm_order_inform",
    "gate_sync",
    "price_sync",
    "visitor_sync",
];

/// Handles one line (see the module docs).
pub(crate) fn handle(state: &State, conn: &mut Conn, line: &[u8]) -> Reply {
    let text_line = String::from_utf8_lossy(line);
    if text_line.is_empty() {
        return Reply::Silent;
    }
    if text_line.contains("0x11") && text_line.encode_utf16().count() < 6 {
        return if conn.channel.is_some() {
            Reply::Frame("0x12".into())
        } else {
            Reply::Silent
        };
    }
    let Ok(message) = serde_json::from_str::<Map<String, Value>>(&text_line) else {
        note(state, None, "", "dropped unanswered: not a JSON object");
        return Reply::Silent;
    };
    let data_text = data_text(&text_line, &message);
    let service = text(message.get("service_name"));
    let resend = is_resend(&mut state.books().resend_memory, &message);
    if resend {
        return resent(
            state,
            &message,
            service.as_deref().unwrap_or(""),
            &data_text,
        );
    }
    let Some(service_name) = service else {
        if !message.contains_key("service_name") {
            return refuse(
                state,
                None,
                "",
                status("未识别到service_name标记"),
                "未识别到service_name标记",
            );
        }
        // `null`: the server reads no name, checks the sign, then throws
        // on the name (lines 169-196).
        if is_empty(text(message.get("sign")).as_deref()) {
            return refuse(
                state,
                None,
                "",
                status("未识别到sign标记"),
                "未识别到sign标记",
            );
        }
        note(state, None, "", "dropped unanswered: service_name is null");
        return Reply::Silent;
    };
    let sign = text(message.get("sign"));
    if is_empty(sign.as_deref()) {
        return refuse(
            state,
            None,
            &service_name,
            status("未识别到sign标记"),
            "未识别到sign标记",
        );
    }
    let sign = sign.unwrap_or_default();
    if service_name == "login" {
        return login(state, conn, &data_text, &sign);
    }
    let token = text(message.get("token"));
    if is_empty(token.as_deref()) {
        return refuse(
            state,
            None,
            &service_name,
            status("未识别到token标记"),
            "未识别到token标记",
        );
    }
    let token = token.unwrap_or_default();
    let Some(session) = state.session_of(&token) else {
        return refuse(
            state,
            None,
            &service_name,
            status("error:token无效"),
            "error:token无效",
        );
    };
    let who = Some(&session);
    let key = &state.parks[&session.park_id].key;
    if !signed(data_text.as_deref(), &sign, key) {
        return refuse(
            state,
            who,
            &service_name,
            status("error:签名错误"),
            "error:签名错误",
        );
    }
    if let Some(limit) = state.config.rate_limit {
        if let Err(TokenError::OverTimes) = state.admit(&token, limit) {
            return refuse(state, who, &service_name, status(OVER_TIMES), OVER_TIMES);
        }
    }
    let Some(data) = data_text
        .as_deref()
        .and_then(|t| serde_json::from_str::<Map<String, Value>>(t).ok())
    else {
        return refuse(
            state,
            who,
            &service_name,
            status("data error"),
            "data error",
        );
    };
    let value = Value::Object(data);
    if let Some(why) = service_name_mismatch(&service_name, &value) {
        let answer = serde_json::json!({"service_name": service_name, "state": 0, "errmsg": why});
        return refuse(state, who, &service_name, answer.to_string(), &why);
    }
    let bytes = data_text.unwrap_or_default();
    if let Some(&(_, answered_as, echo, errmsg)) =
        UPLOADS.iter().find(|(name, ..)| *name == service_name)
    {
        let reply = upload(
            state,
            &session,
            &service_name,
            answered_as,
            echo,
            errmsg,
            &bytes,
            value.clone(),
        );
        if matches!(service_name.as_str(), "in_park" | "out_park") {
            relay(state, &token, &session.park_id, &service_name, value);
        }
        return reply;
    }
    if is_downstream(&service_name) || CLOUD_ANSWERS.contains(&service_name.as_str()) {
        let instance = (session.park_id.clone(), session.local_id.clone());
        let answered = state
            .books()
            .hand_answer(instance, &service_name, bytes.as_bytes());
        if answered.is_some() {
            emit(state, who, &service_name, "answer taken");
        } else {
            note(
                state,
                who,
                &service_name,
                "answered with an empty frame: no request awaits this answer",
            );
        }
        return Reply::Frame(String::new());
    }
    note(
        state,
        who,
        &service_name,
        "answered with an empty frame: the public server does not dispatch this service",
    );
    Reply::Frame(String::new())
}

/// The answer to a re-send (lines 132-165), booked as a delivery of its
/// upload when its token and sign are good.
fn resent(
    state: &State,
    message: &Map<String, Value>,
    service_name: &str,
    data_text: &Option<String>,
) -> Reply {
    let data = match message.get("data") {
        None => Value::Object(Map::new()),
        Some(value) => match object_of(value) {
            Ok(object) => Value::Object(object),
            Err(()) => {
                return refuse(
                    state,
                    None,
                    service_name,
                    status("数据格式错误!"),
                    "数据格式错误!",
                );
            }
        },
    };
    let session = text(message.get("token")).and_then(|token| state.session_of(&token));
    if let Some(session) = &session {
        let key = &state.parks[&session.park_id].key;
        let sign = text(message.get("sign")).unwrap_or_default();
        if signed(data_text.as_deref(), &sign, key) {
            count_delivery(&mut state.books(), &session.park_id, service_name, &data);
        }
    }
    emit(
        state,
        session.as_ref(),
        service_name,
        "duplicate: 数据已处理过...",
    );
    Reply::Frame(already_processed_json(service_name, &data).to_string())
}

/// Books a refusal, shows it, and answers it.
pub(super) fn refuse(
    state: &State,
    who: Option<&SessionRef>,
    service_name: &str,
    answer: String,
    reason: &str,
) -> Reply {
    state.books().reject(service_name, reason);
    emit(state, who, service_name, format!("refused: {reason}"));
    Reply::Frame(answer)
}

/// A refused login: answered, then the connection is closed.
pub(super) fn refuse_and_close(
    state: &State,
    who: Option<&SessionRef>,
    answer: String,
    reason: &str,
) -> Reply {
    state.books().reject("login", reason);
    emit(state, who, "login", format!("refused: {reason}; closed"));
    Reply::FrameThenClose(answer)
}

/// Books what was not answered as a refusal would be (dropped lines, empty
/// answers), and shows it.
pub(super) fn note(state: &State, who: Option<&SessionRef>, service_name: &str, reason: &str) {
    state.books().reject(service_name, reason);
    emit(state, who, service_name, reason);
}

pub(super) fn emit(
    state: &State,
    who: Option<&SessionRef>,
    service_name: &str,
    outcome: impl Into<String>,
) {
    state.emit(Exchange::new(
        Direction::Up,
        Link::Tcp,
        who.map(|w| w.park_id.as_str()),
        who.map(|w| w.local_id.as_str()),
        service_name,
        outcome,
    ));
}

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
//!    1369-1372). An in_park whose order the park already has is refused
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

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::resend::{is_empty, is_resend, object_of, text};
use crate::simulator::filing::{count_delivery, file, has_entry, service_name_mismatch, Filed};
use crate::simulator::observe::{Direction, Exchange, Link};
use crate::simulator::state::{Outbound, SessionLink, SessionRef, State, TokenError};
use crate::simulator::upload::{already_processed_json, is_downstream, one_line, OVER_TIMES};

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

/// The uploads the server dispatches (lines 313-347): the service, the
/// name it answers with, the id it echoes, and its `errmsg` on success.
const UPLOADS: &[(&str, &str, Option<&str>, &str)] = &[
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
    ("park_log", "park_log", None, ""),
    ("upload_confirm_order", "upload_confirm_order", None, ""),
];

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

/// `{"state":0,"errmsg":...}`, the server's refusals without a service.
fn status(errmsg: &str) -> String {
    format!(
        r#"{{"state":0,"errmsg":{}}}"#,
        Value::String(errmsg.to_string())
    )
}

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
        if state
            .books()
            .hand_answer(instance, &service_name, bytes.as_bytes())
        {
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

/// The server's `jsonMesg.getString("data")`: a string as is, `null` or
/// absent as nothing, anything else re-serialised without whitespace in
/// the order received.
fn data_text(line: &str, message: &Map<String, Value>) -> Option<String> {
    match message.get("data")? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => {
            #[derive(serde::Deserialize)]
            struct Raw<'a> {
                #[serde(borrow)]
                data: &'a RawValue,
            }
            // A repeated `data` key makes this fail; fastjson would keep the
            // last one, which the map holds.
            match serde_json::from_str::<Raw<'_>>(line) {
                Ok(raw) => Some(compact(raw.data.get())),
                Err(_) => message.get("data").map(|v| v.to_string()),
            }
        }
    }
}

/// JSON text without whitespace outside strings.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// `StringUtils.MD5(data + "key=" + ukey).toUpperCase().equals(sign)`; a
/// missing `data` signs as the text `null`, as Java's concatenation writes it.
fn signed(data: Option<&str>, sign: &str, key: &bolink_sign::Key) -> bool {
    let data = data.unwrap_or("null");
    let expected = bolink_sign::sign(data.as_bytes(), key);
    expected.as_hex().as_slice() == sign.as_bytes()
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

/// `login` (see the module docs, step 6).
fn login(state: &State, conn: &mut Conn, data_text: &Option<String>, sign: &str) -> Reply {
    let Some(data) = data_text
        .as_deref()
        .and_then(|t| serde_json::from_str::<Map<String, Value>>(t).ok())
    else {
        // `jsonObj.getString` on a null object throws: no answer.
        note(
            state,
            None,
            "login",
            "dropped unanswered: login without a data object",
        );
        return Reply::Silent;
    };
    let park_id = text(data.get("park_id"));
    if is_empty(park_id.as_deref()) {
        return refuse_and_close(
            state,
            None,
            status("未识别到park_id标记"),
            "未识别到park_id标记",
        );
    }
    let park_id = park_id.unwrap_or_default();
    let registered = state.parks.contains_key(&park_id);
    if !registered && !is_number(&park_id) {
        return refuse(state, None, "login", status("车场不存在"), "车场不存在");
    }
    let local_id = text(data.get("local_id")).unwrap_or_default();
    let who = SessionRef {
        park_id: park_id.clone(),
        local_id: local_id.clone(),
    };
    conn.channel = Some(if is_empty(Some(&local_id)) {
        park_id.clone()
    } else {
        format!("{park_id}_{local_id}")
    });
    let login_refusal = |errmsg: &str| {
        serde_json::json!({"state": 0, "errmsg": errmsg, "service_name": "login"}).to_string()
    };
    let Some(park) = state.parks.get(&park_id) else {
        let errmsg = "error:云平台车场不存在";
        return refuse_and_close(state, Some(&who), login_refusal(errmsg), errmsg);
    };
    if !signed(data_text.as_deref(), sign, &park.key) {
        let errmsg = "error:签名错误";
        return refuse_and_close(state, Some(&who), login_refusal(errmsg), errmsg);
    }
    if let Some(why) = service_name_mismatch("login", &Value::Object(data)) {
        return refuse_and_close(state, Some(&who), login_refusal(&why), &why);
    }
    let token = format!("{:032x}", rand::random::<u128>());
    state.open_session(
        token.clone(),
        (park_id, local_id),
        SessionLink::Tcp {
            conn: conn.id,
            outbound: conn.outbound.clone(),
        },
    );
    emit(state, Some(&who), "login", "logged in");
    Reply::Frame(format!(
        r#"{{"state":1,"token":"{token}","service_name":"login"}}"#
    ))
}

/// `Check.isNumber` (`utlis/Check.java` lines 151-161): up to 9 digits, or
/// more that still fit an `int`; `getComId` takes such a park id as the
/// cloud's own id (`DoUploadImpl` lines 2262-2274).
fn is_number(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() <= 9 || text.parse::<i32>().is_ok())
}

/// An upload the server dispatches (step 8).
#[allow(clippy::too_many_arguments)]
fn upload(
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
        if let Some(order_id) = order_id
            .as_deref()
            .filter(|o| has_entry(&books, &session.park_id, o))
        {
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
fn relay(state: &State, token: &str, park_id: &str, service_name: &str, mut data: Value) {
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

/// Books a refusal, shows it, and answers it.
fn refuse(
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
fn refuse_and_close(
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
fn note(state: &State, who: Option<&SessionRef>, service_name: &str, reason: &str) {
    state.books().reject(service_name, reason);
    emit(state, who, service_name, reason);
}

fn emit(state: &State, who: Option<&SessionRef>, service_name: &str, outcome: impl Into<String>) {
    state.emit(Exchange::new(
        Direction::Up,
        Link::Tcp,
        who.map(|w| w.park_id.as_str()),
        who.map(|w| w.local_id.as_str()),
        service_name,
        outcome,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_read_as_the_server_re_serialises_it() {
        let line = r#"{"service_name":"x","data": { "b" : 1, "a" : "s p" } }"#;
        let message: Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(
            data_text(line, &message).as_deref(),
            Some(r#"{"b":1,"a":"s p"}"#)
        );
        let quoted = r#"{"data":"{\"a\":1}"}"#;
        let message: Map<String, Value> = serde_json::from_str(quoted).unwrap();
        assert_eq!(data_text(quoted, &message).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(
            compact(r#"{"a":"x \" y", "b" :[1, 2]}"#),
            r#"{"a":"x \" y","b":[1,2]}"#
        );
    }

    #[test]
    fn signs_are_compared_upper_case_only() {
        let key = bolink_sign::Key::new("8403A41ED5EF20BC");
        let data = r#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
        assert!(signed(Some(data), "CB649425CB5548A375099103AB04CC1E", &key));
        assert!(!signed(
            Some(data),
            "cb649425cb5548a375099103ab04cc1e",
            &key
        ));
        assert!(!signed(None, "CB649425CB5548A375099103AB04CC1E", &key));
    }

    #[test]
    fn park_ids_as_check_is_number_reads_them() {
        assert!(is_number("21835") && is_number("2147483647"));
        assert!(!is_number("2147483648") && !is_number("lot-1") && !is_number(""));
    }
}

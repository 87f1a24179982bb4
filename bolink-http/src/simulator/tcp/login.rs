//! `login` on the TCP link (`SensorServerHandler.java` lines 196-255,
//! `doLogin` lines 495-527; `DoUploadImpl.doLogin` lines 85-169): see
//! step 6 of the handler's docs.

use serde_json::{Map, Value};

use super::handler::{emit, note, refuse, refuse_and_close, Conn, Reply};
use super::resend::{is_empty, text};
use super::wire::{signed, status};
use crate::simulator::filing::service_name_mismatch;
use crate::simulator::state::{SessionLink, SessionRef, State};

/// `login` (see the module docs, step 6).
pub(super) fn login(
    state: &State,
    conn: &mut Conn,
    data_text: &Option<String>,
    sign: &str,
) -> Reply {
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
pub(super) fn is_number(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() <= 9 || text.parse::<i32>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn park_ids_as_check_is_number_reads_them() {
        assert!(is_number("21835") && is_number("2147483647"));
        assert!(!is_number("2147483648") && !is_number("lot-1") && !is_number(""));
    }
}

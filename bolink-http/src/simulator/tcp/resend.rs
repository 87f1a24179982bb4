//! The public server's re-send check, `TempUtil.isReSend`
//! (ParkingOS_cloud `netty/TempUtil.java` lines 33-114), run on every
//! message before any other check (`SensorServerHandler.java` line 132):
//!
//! * only for a `service_name` containing `in_park`, `out_park` or
//!   `upload_order` (lines 47-51, `contains`, so `xin_park` counts too);
//! * a `sign` seen before is a re-send; an unseen one is remembered (lines
//!   61-69), whatever the later checks make of the message, so that a
//!   message refused for its token and sent again unchanged is called a
//!   re-send although it was never stored;
//! * a message without a `token` key is a re-send (lines 71-77);
//! * the third message of one token, service and `order_id` is a re-send
//!   (lines 79-100: "只处理两次", handled twice);
//! * everything is remembered in one `LRUMap(5000)` (line 19); an
//!   exception inside (a `data` that is not an object) means "not a re-send".

use serde_json::{Map, Value};

use crate::simulator::history::BoundedMap;

/// A field as fastjson's `getString` gives it: a string as is, `null` as
/// nothing, anything else as its JSON text.
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `Check.isEmpty` (`utlis/Check.java` lines 216-228): null, empty,
/// `"null"`, or only whitespace.
pub(crate) fn is_empty(value: Option<&str>) -> bool {
    match value {
        None => true,
        Some(s) => s == "null" || s.chars().all(char::is_whitespace),
    }
}

/// A field that fastjson's `getJSONObject` reads as an object: an object,
/// or a string holding one. `Err` where it throws.
pub(crate) fn object_of(value: &Value) -> Result<Map<String, Value>, ()> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        Value::String(s) => serde_json::from_str::<Map<String, Value>>(s).map_err(|_| ()),
        _ => Err(()),
    }
}

/// Whether `message` is a re-send, remembering it in `memory`.
pub(crate) fn is_resend(
    memory: &mut BoundedMap<String, u32>,
    message: &Map<String, Value>,
) -> bool {
    let Some(service_name) = text(message.get("service_name")) else {
        return false;
    };
    if !["out_park", "in_park", "upload_order"]
        .iter()
        .any(|watched| service_name.contains(watched))
    {
        return false;
    }
    if message.contains_key("sign") {
        let sign = text(message.get("sign")).unwrap_or_else(|| "null".into());
        if memory.get(&sign).is_some() {
            return true;
        }
        memory.insert(sign, 1);
    }
    if !message.contains_key("token") {
        return true;
    }
    let token = text(message.get("token"));
    let Some(data) = message.get("data") else {
        return false;
    };
    let Ok(data) = object_of(data) else {
        return false;
    };
    let Some(order_id) = text(data.get("order_id")) else {
        return false;
    };
    if is_empty(token.as_deref()) || is_empty(Some(&service_name)) || is_empty(Some(&order_id)) {
        return false;
    }
    let key = format!("{}{service_name}{order_id}", token.unwrap_or_default());
    match memory.get_mut(&key) {
        Some(times) if *times > 1 => true,
        Some(times) => {
            *times += 1;
            false
        }
        None => {
            memory.insert(key, 1);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_sign_seen_before_is_a_resend_whatever_became_of_it() {
        let mut memory = BoundedMap::new(100);
        let entry = message(
            r#"{"service_name":"in_park","sign":"S1","token":"t","data":{"order_id":"o"}}"#,
        );
        assert!(!is_resend(&mut memory, &entry));
        assert!(is_resend(&mut memory, &entry));
        // Other services are not watched.
        let other = message(r#"{"service_name":"upload_gate","sign":"S1","token":"t"}"#);
        assert!(!is_resend(&mut memory, &other));
    }

    #[test]
    fn a_watched_message_without_token_is_a_resend() {
        let mut memory = BoundedMap::new(100);
        let untokened = message(r#"{"service_name":"out_park","sign":"S2","data":{}}"#);
        assert!(is_resend(&mut memory, &untokened));
    }

    #[test]
    fn the_third_message_of_a_token_and_order_is_a_resend() {
        let mut memory = BoundedMap::new(100);
        let send = |memory: &mut BoundedMap<String, u32>, sign: &str| {
            let text = format!(
                r#"{{"service_name":"upload_order","sign":"{sign}","token":"t","data":{{"order_id":"o-1"}}}}"#
            );
            is_resend(memory, &message(&text))
        };
        assert!(!send(&mut memory, "A"));
        assert!(!send(&mut memory, "B"));
        assert!(send(&mut memory, "C"));
        // A data that is not an object: not a re-send (the exception is caught).
        let odd = message(r#"{"service_name":"in_park","sign":"D","token":"t","data":5}"#);
        assert!(!is_resend(&mut memory, &odd));
    }

    #[test]
    fn fastjsons_readings() {
        assert_eq!(text(Some(&Value::from(5))), Some("5".into()));
        assert_eq!(text(Some(&Value::Null)), None);
        assert!(is_empty(Some(" ")) && is_empty(Some("null")) && !is_empty(Some("x")));
        assert!(object_of(&Value::from(r#"{"a":1}"#)).is_ok());
        assert!(object_of(&Value::from("x")).is_err());
    }
}

//! How the public server reads a message's `data` and checks its sign:
//! `jsonMesg.getString("data")` (fastjson re-serialises an object in the
//! order received, without whitespace) and
//! `StringUtils.MD5(data + "key=" + ukey).toUpperCase().equals(sign)`
//! (`DoUploadImpl.checkTokenSign` lines 39-83, `DoUploadImpl.doLogin`
//! lines 97-108).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// `{"state":0,"errmsg":...}`, the server's refusals without a service.
pub(super) fn status(errmsg: &str) -> String {
    format!(
        r#"{{"state":0,"errmsg":{}}}"#,
        Value::String(errmsg.to_string())
    )
}

/// The server's `jsonMesg.getString("data")`: a string as is, `null` or
/// absent as nothing, anything else re-serialised without whitespace in
/// the order received.
pub(super) fn data_text(line: &str, message: &Map<String, Value>) -> Option<String> {
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
pub(super) fn signed(data: Option<&str>, sign: &str, key: &bolink_sign::Key) -> bool {
    let data = data.unwrap_or("null");
    let expected = bolink_sign::sign(data.as_bytes(), key);
    expected.as_hex().as_slice() == sign.as_bytes()
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
}

//! What SDK-HTTP mode and the TCP link share on the way to the books:
//! the check of the envelope's `service_name` against the data's, the
//! idempotency key of an upload, and recording it.
//!
//! This is the simulator's own reading of the platform (not the client's
//! code), so that testing the client against it proves something.

use super::state::{Books, InParkOrder, Received};

/// The errmsg for an envelope whose `service_name` is not its data's, when
/// the data names one. The sign covers only `data`, so the envelope's name
/// is unsigned: without this check a signed entry could be replayed as
/// another service. (The platform's wording for it is not public.)
pub(crate) fn service_name_mismatch(envelope: &str, data: &serde_json::Value) -> Option<String> {
    let named = data.get("service_name")?;
    if named.as_str() == Some(envelope) {
        return None;
    }
    Some(format!(
        "error:service_name不一致 (envelope {envelope:?}, data {named})"
    ))
}

/// The idempotency key of an upload: the service with the data's
/// `order_id`, else its `trade_no` (a non-empty string, or a number).
pub(crate) fn resend_key(service_name: &str, data: &serde_json::Value) -> Option<String> {
    let text = |name: &str| match data.get(name)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let id = text("order_id").or_else(|| text("trade_no"))?;
    Some(format!("{service_name}:{id}"))
}

/// Counts one arrival of an upload under `PARK_ID/idempotency key` and
/// returns how many times it arrived (1: the first time, or it has no key).
pub(crate) fn count_delivery(
    books: &mut Books,
    park_id: &str,
    service_name: &str,
    data: &serde_json::Value,
) -> u32 {
    let Some(key) = resend_key(service_name, data) else {
        return 1;
    };
    let key = format!("{park_id}/{key}");
    match books.deliveries.get_mut(&key) {
        Some(count) => {
            *count += 1;
            *count
        }
        None => {
            books.deliveries.insert(key, 1);
            1
        }
    }
}

/// What became of an upload taken by the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filed {
    /// Recorded now.
    New,
    /// Recorded before (a re-send): counted, not recorded again.
    Again {
        /// How many times it arrived, this time included.
        arrivals: u32,
    },
}

/// Counts an arrival of a valid upload and records it unless the same
/// upload (by its idempotency key) was recorded before. An arrival is not
/// a recording: a re-send answered "数据已处理过..." by the TCP link's
/// re-send memory was counted, but never recorded, so it does not make
/// the next arrival a duplicate.
pub(crate) fn file(
    books: &mut Books,
    park_id: &str,
    service_name: &str,
    data: serde_json::Value,
) -> Filed {
    let arrivals = count_delivery(books, park_id, service_name, &data);
    if let Some(key) = resend_key(service_name, &data) {
        let key = format!("{park_id}/{key}");
        if books.filed.get(&key).is_some() && !forces_update(service_name, &data) {
            return Filed::Again { arrivals };
        }
        books.filed.insert(key, ());
    }
    record(books, park_id, service_name, data);
    Filed::New
}

/// An entry with `force_update` 1: 2.1 says the platform then deletes its
/// order of the same order_id and takes this one ("是否强力删除云平台重复
/// 订单号的订单,1 强删"), where it would otherwise call it a re-send.
pub(crate) fn forces_update(service_name: &str, data: &serde_json::Value) -> bool {
    service_name == "in_park"
        && match data.get("force_update") {
            Some(serde_json::Value::Number(n)) => n.as_i64() == Some(1),
            Some(serde_json::Value::String(s)) => s.trim() == "1",
            _ => false,
        }
}

/// Whether the park already has an entry with this order (an in_park was
/// recorded for it, even one that has left since), as the cloud's order
/// table has it.
pub(crate) fn has_entry(books: &Books, park_id: &str, order_id: &str) -> bool {
    books
        .filed
        .get(&format!("{park_id}/in_park:{order_id}"))
        .is_some()
}

/// Records an accepted upload: in the received list, and in the in-park
/// orders for entries and exits.
fn record(books: &mut Books, park_id: &str, service_name: &str, data: serde_json::Value) {
    let order_id = data
        .get("order_id")
        .and_then(|v| v.as_str())
        .map(String::from);
    let car_number = data
        .get("car_number")
        .and_then(|v| v.as_str())
        .map(String::from);
    if let Some(order_id) = order_id {
        let key = (park_id.to_string(), order_id.clone());
        match service_name {
            "in_park" => {
                books.in_park.insert(
                    key,
                    InParkOrder {
                        park_id: park_id.to_string(),
                        order_id,
                        car_number,
                    },
                );
            }
            "out_park" => {
                books.in_park.remove(&key);
            }
            _ => {}
        }
    }
    books.received.push(Received {
        park_id: park_id.to_string(),
        service_name: service_name.to_string(),
        data,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resend_is_keyed_by_service_and_order_else_trade_no() {
        let key = |data: &str| resend_key("svc", &serde_json::from_str(data).unwrap());
        assert_eq!(
            key(r#"{"order_id":"o","trade_no":"t"}"#).as_deref(),
            Some("svc:o")
        );
        assert_eq!(
            key(r#"{"order_id":"","trade_no":"t"}"#).as_deref(),
            Some("svc:t")
        );
        assert_eq!(key(r#"{"trade_no":42}"#).as_deref(), Some("svc:42"));
        assert_eq!(key(r#"{"order_id":null,"car_number":"x"}"#), None);
    }

    #[test]
    fn the_envelope_must_name_the_datas_service() {
        let data = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(
            service_name_mismatch("in_park", &data(r#"{"service_name":"in_park"}"#)),
            None
        );
        assert_eq!(service_name_mismatch("in_park", &data(r#"{"a":1}"#)), None);
        let why =
            service_name_mismatch("in_park", &data(r#"{"service_name":"out_park"}"#)).unwrap();
        assert!(
            why.starts_with("error:service_name不一致") && why.contains("out_park"),
            "{why}"
        );
        assert!(service_name_mismatch("in_park", &data(r#"{"service_name":7}"#)).is_some());
    }
}

//! One upload waiting in the outbox.

use serde::{Deserialize, Serialize};

use crate::logging::MessageIds;

/// An upload written to the outbox before it is sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Enqueue sequence number: increasing, never reused.
    pub id: u64,
    /// The upload's service.
    pub service_name: String,
    /// What makes a re-send recognisable as the same upload:
    /// `service_name` with the order's `order_id` (or the payment's
    /// `trade_no`), else the sequence number.
    pub idempotency_key: String,
    /// The order it belongs to (`order_id`): records of one order are sent
    /// in enqueue order, so an exit never overtakes its entry.
    pub order_key: Option<String>,
    /// The message's data JSON, exactly as it will be signed and sent.
    pub data: Vec<u8>,
    /// When it was enqueued (unix milliseconds).
    pub enqueued_at_ms: u64,
    /// How many sends failed so far.
    pub attempts: u32,
    /// Not sent before this time (unix milliseconds).
    pub next_attempt_ms: u64,
    /// Why the last send failed.
    pub last_error: Option<String>,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("service_name", &self.service_name)
            .field("idempotency_key", &self.idempotency_key)
            .field("order_key", &self.order_key)
            .field("data", &crate::Text(&self.data))
            .field("enqueued_at_ms", &self.enqueued_at_ms)
            .field("attempts", &self.attempts)
            .field("next_attempt_ms", &self.next_attempt_ms)
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl Record {
    /// The payment's `trade_no`, when it is what identifies the record (it
    /// has no `order_id`): read back from the idempotency key.
    pub fn trade_no(&self) -> Option<&str> {
        if self.order_key.is_some() {
            return None;
        }
        let key = self
            .idempotency_key
            .strip_prefix(self.service_name.as_str())?
            .strip_prefix(':')?;
        (key != format!("#{}", self.id)).then_some(key)
    }

    /// Builds a record for `data`, deriving the keys from its fields.
    pub(crate) fn new(id: u64, service_name: &str, data: Vec<u8>, now_ms: u64) -> Record {
        let ids = MessageIds::read(&data);
        let order_key = ids.order_id.clone();
        let business_key = ids.order_id.or(ids.trade_no);
        let idempotency_key = match business_key {
            Some(key) => format!("{service_name}:{key}"),
            None => format!("{service_name}:#{id}"),
        };
        Record {
            id,
            service_name: service_name.to_string(),
            idempotency_key,
            order_key,
            data,
            enqueued_at_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
        }
    }
}

/// The key the protocol offers to recognise a re-sent upload: the service
/// with the order's `order_id`, or else the payment's `trade_no`. `None`
/// when the data carries neither (the outbox then uses its sequence number).
///
/// The platform simulator applies the same rule with its own code (so that
/// testing this client against it proves something).
pub fn idempotency_key(service_name: &str, data: &[u8]) -> Option<String> {
    let ids = MessageIds::read(data);
    let key = ids.order_id.or(ids.trade_no)?;
    Some(format!("{service_name}:{key}"))
}

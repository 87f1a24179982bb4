//! A signed message that breaks its table: it reaches the application all
//! the same, so that nothing signed is dropped (a payment result with a
//! 129-character remark is still a payment the lot must reconcile).

use bolink_types::Report;

/// A message whose sign verified but whose table check failed. The
/// protocol answer (a refusal naming the first violation) is sent as well.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct InvalidMessage {
    /// The service it names (`service_name`, or the new API's interface key).
    pub service_name: String,
    /// The data JSON exactly as received and signed.
    pub data: Vec<u8>,
    /// The fields that could be read, as JSON (empty when the data is not a
    /// JSON object).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Every violation.
    pub report: Report,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for InvalidMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidMessage")
            .field("service_name", &self.service_name)
            .field("data", &crate::Text(&self.data))
            .field("fields", &self.fields)
            .field("report", &self.report)
            .finish()
    }
}

impl InvalidMessage {
    pub(crate) fn new(service_name: &str, data: &[u8], report: Report) -> InvalidMessage {
        InvalidMessage {
            service_name: service_name.to_string(),
            data: data.to_vec(),
            fields: serde_json::from_slice(data).unwrap_or_default(),
            report,
        }
    }
}

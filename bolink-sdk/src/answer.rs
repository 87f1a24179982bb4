//! What a handler returns: the service's return message, or a refusal.

use bolink_types::schema::{ObjectSchema, Rule};

/// A handler's answer to one downstream request.
pub type Answer<M> = Result<M, Refusal>;

/// A failed answer: sent as the service's return with `state` 0 and `errmsg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The reason, shown to the platform (at most 48 characters in most tables).
    pub errmsg: String,
}

impl Refusal {
    /// A refusal with this reason.
    pub fn new(errmsg: impl Into<String>) -> Refusal {
        Refusal {
            errmsg: errmsg.into(),
        }
    }

    /// The default answer of every [`Handler`](crate::Handler) method.
    pub fn not_supported() -> Refusal {
        Refusal::new("not supported")
    }

    /// The refusal as the data JSON of `return_schema`: `service_name`,
    /// `state` 0, `errmsg`, the table's fixed values (`data_target`), and the
    /// always-required fields the request also carried (order_id, park_id,
    /// ...), copied so the platform can match the answer to its request.
    pub(crate) fn to_json(
        &self,
        service_name: &str,
        return_schema: &ObjectSchema,
        request: &[u8],
    ) -> Vec<u8> {
        let request: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(request).unwrap_or_default();
        let mut out = serde_json::Map::new();
        out.insert("service_name".into(), service_name.into());
        for constant in return_schema.constants {
            out.insert(constant.name.into(), constant.value.into());
        }
        out.insert("state".into(), 0.into());
        out.insert("errmsg".into(), self.errmsg.clone().into());
        for field in return_schema.fields {
            if matches!(field.rule, Rule::Always) && !out.contains_key(field.name) {
                if let Some(value) = request.get(field.name) {
                    out.insert(field.name.into(), value.clone());
                }
            }
        }
        serde_json::Value::Object(out).to_string().into_bytes()
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}", self.errmsg)
    }
}

//! Who a charging system is to the platform.

use bolink_sign::Key;

/// A parking lot's identity and signing key on the Bolink platform.
#[derive(Clone)]
#[non_exhaustive]
pub struct Credentials {
    /// The vendor account (厂商平台账号), e.g. `200208`.
    pub union_id: String,
    /// The lot (车场编号), e.g. `21835`.
    pub park_id: String,
    /// This charging-system instance, unique within the lot; may bind lanes
    /// (`mac001_channels_A1_A2`).
    pub local_id: String,
    /// The vendor key (ukey) that signs every message.
    pub key: Key,
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(
        union_id: impl Into<String>,
        park_id: impl Into<String>,
        local_id: impl Into<String>,
        key: Key,
    ) -> Self {
        Credentials {
            union_id: union_id.into(),
            park_id: park_id.into(),
            local_id: local_id.into(),
            key,
        }
    }
}

impl std::fmt::Debug for Credentials {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("union_id", &self.union_id)
            .field("park_id", &self.park_id)
            .field("local_id", &self.local_id)
            .finish_non_exhaustive()
    }
}

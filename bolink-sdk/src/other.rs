//! Downstream services bolink-types does not specify: a vendor's private
//! interfaces, typed from a spec of its own by bolink-codegen, reach the
//! application through [`Handler::other_service`](crate::Handler::other_service).

use bolink_types::{decode_with_slips, DecodeError, Decoded, Message, Report};

/// A signed downstream message whose service bolink-types does not know.
///
/// Its sign was checked before the handler sees it; read it with
/// [`decode`](Self::decode) as a type of your own spec.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtherService {
    /// The envelope's `service_name`.
    pub service_name: String,
    /// The data JSON as received (and signed).
    pub data: Vec<u8>,
}

impl OtherService {
    pub(crate) fn new(service_name: &str, data: &[u8]) -> OtherService {
        OtherService {
            service_name: service_name.to_string(),
            data: data.to_vec(),
        }
    }

    /// Whether this is a message of `M`'s service.
    pub fn is<M: Message>(&self) -> bool {
        self.service_name == M::SERVICE_NAME
    }

    /// Reads the data as `M` (leniently, every rule checked, as bolink-types
    /// reads its own messages).
    ///
    /// # Errors
    /// [`DecodeError::UnknownService`] when the message is of another
    /// service; otherwise as [`bolink_types::decode`].
    pub fn decode<M: Message>(&self) -> Result<Decoded<M>, DecodeError> {
        if !self.is::<M>() {
            return Err(DecodeError::UnknownService {
                service_name: self.service_name.clone(),
                role: M::ROLE,
            });
        }
        decode_with_slips(&self.data)
    }
}

impl std::fmt::Debug for OtherService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtherService")
            .field("service_name", &self.service_name)
            .field("data", &crate::Text(&self.data))
            .finish()
    }
}

/// The answer to an [`OtherService`]: a message of your own spec, checked
/// against its table when it is made, so nothing that breaks it is signed.
#[derive(Clone, PartialEq, Eq)]
pub struct OtherAnswer(pub(crate) Vec<u8>);

impl OtherAnswer {
    /// Checks `answer` against its table and encodes it.
    ///
    /// # Errors
    /// Every violation of its table.
    pub fn new<M: Message>(answer: &M) -> Result<OtherAnswer, Report> {
        answer.validate()?;
        Ok(OtherAnswer(answer.encode()))
    }

    /// The data JSON that will be signed and sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for OtherAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OtherAnswer")
            .field(&crate::Text(&self.0))
            .finish()
    }
}

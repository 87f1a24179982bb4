//! The transport boundary: how the engine's frames reach the platform.
//!
//! A transport only moves bytes: it does not sign, retry, log in, pace or
//! read the protocol's answers; the engine does all of that, once, for
//! every transport. SDK-HTTP mode, the SDK's TCP link and the new API each
//! implement this trait (in `bolink-http` and the TCP transport).

use std::future::Future;
use std::time::Duration;

/// What a frame is for; a transport may route or wait differently by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// The `login` message (SDK modes): no token, answered with one.
    Login,
    /// An upload from the outbox: answered with the platform's
    /// acknowledgement.
    Upload,
    /// A request sent outside the outbox (a query): answered like an upload.
    Request,
    /// The answer to a downstream message.
    Answer,
}

/// One signed message, ready for the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// What it is for.
    pub kind: FrameKind,
    /// The service (`service_name`, or the new API's interface key).
    pub service_name: String,
    /// The URL path, for path-addressed interfaces (the new API).
    pub path: Option<&'static str>,
    /// The bytes to send (an envelope, signed).
    pub body: Vec<u8>,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("kind", &self.kind)
            .field("service_name", &self.service_name)
            .field("path", &self.path)
            .field("body", &crate::Text(&self.body))
            .finish()
    }
}

/// Why a frame got no answer, or an answer the engine cannot use as one.
///
/// Every variant leaves the record it carried in the outbox: only an
/// answer the engine can read settles a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No connection could be made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No (complete) answer within the time allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection closed or broke during the exchange.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The answer is larger than the configured limit; it was not read.
    #[error("answer over {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// An HTTP status other than 200 (and 401).
    #[error("HTTP status {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The start of the body, for the log.
        body: String,
    },
    /// The platform refused the session's token at the transport level
    /// (HTTP 401): log in again.
    #[error("token refused: {0}")]
    TokenRefused(String),
    /// The link that carried the session is gone (a TCP reconnect): the
    /// session must log in again on the new link.
    #[error("session lost: {0}")]
    SessionLost(String),
    /// The transport cannot do this (a link without downstream messages).
    #[error("not supported by this transport: {0}")]
    Unsupported(&'static str),
}

/// Moves frames to the platform and back.
///
/// Implementations are shared between the engine's tasks (`&self`), so
/// they keep their connections behind their own synchronisation.
pub trait Transport: Send + Sync + 'static {
    /// Sends a frame that the platform answers ([`FrameKind::Login`],
    /// [`FrameKind::Upload`], [`FrameKind::Request`]) and returns the
    /// answer's bytes, read up to the transport's size limit.
    fn send(&self, frame: Frame) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// Waits for the next downstream message of the session `token` (HTTP:
    /// one long poll; TCP: the next message the link received). `Ok(None)`
    /// when the wait ended without one. A transport without downstream
    /// messages (the new API's client) never completes.
    fn receive(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, TransportError>> + Send {
        let _ = token;
        std::future::pending()
    }

    /// Which wire this is, for the tables' "SDK模式必传,HTTP模式不传" fields
    /// (`data_target`): HTTP mode unless the transport is the SDK's link.
    fn link_mode(&self) -> crate::LinkMode {
        crate::LinkMode::Http
    }

    /// Sends the answer to a downstream message; returns the platform's
    /// acknowledgement where the link has one (HTTP), `None` where it has
    /// none (TCP).
    fn answer(
        &self,
        frame: Frame,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, TransportError>> + Send {
        let _ = frame;
        std::future::ready(Err(TransportError::Unsupported("downstream answers")))
    }
}

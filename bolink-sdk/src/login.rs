//! The HTTP-mode login exchange and the platform's acknowledgement of uploads.
//!
//! The login message is documented only by the HTTP-mode page's example
//! (`{"union_id","park_id","local_id"}` under `service_name` `login`); its reply
//! and the acknowledgement of uploads are not on any public page, so their
//! shape follows public client code: `{"service_name","state","errmsg"}` plus
//! `token` on a successful login.

use bolink_types::enums::State;
use bolink_types::Message;

/// `login`: the first HTTP-mode message, the only one without a token.
#[derive(Debug, Clone, PartialEq, Message)]
#[bolink(service = "login", role = "request", service_name = "optional")]
pub struct Login {
    /// The vendor account (厂商平台账号).
    #[bolink(max_len = 15)]
    pub union_id: String,
    /// The lot (车场编号).
    #[bolink(max_len = 24)]
    pub park_id: String,
    /// This charging-system instance.
    #[bolink(max_len = 196)]
    pub local_id: Option<String>,
}

/// The platform's reply to `login` (its `service_name` is not checked).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct LoginReply {
    /// 1 when logged in.
    pub state: State,
    /// Why the login failed.
    #[bolink(required_if(state = [0]))]
    pub errmsg: Option<String>,
    /// The session token every later message carries (a dash-less UUID).
    #[bolink(max_len = 64, required_if(state = [1]))]
    pub token: Option<String>,
}

/// The platform's synchronous acknowledgement of an upload (and of an answer
/// to a downstream message); its `service_name` echoes the message's.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct Ack {
    /// 1 when the platform took the message.
    pub state: State,
    /// Why it did not.
    #[bolink(required_if(state = [0]))]
    pub errmsg: Option<String>,
}

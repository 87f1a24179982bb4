//! The HTTP-mode login exchange and the platform's acknowledgement of uploads.
//!
//! The types are generated from the spec like every other message, and
//! re-exported here under the names the session and the transports use:
//! [`Login`] and [`LoginReply`] are the `request` and `http_return` roles of
//! `protocol-spec/sdk-http/1.1_login.toml` ([`bolink_types::sdk::login`]);
//! [`Ack`] is the shared object of `protocol-spec/definitions/sdk.toml`
//! ([`bolink_types::sdk::Ack`]). The login data is documented by the HTTP-mode
//! page's example (`{"union_id","park_id","local_id"}` under `service_name`
//! `login`); the reply and the acknowledgement are on no public page, so their
//! shape follows public code: `{"state","errmsg"}` plus `token` on a
//! successful login.

/// `login`: the first HTTP-mode message, the only one without a token.
pub use bolink_types::sdk::login::Request as Login;

/// The platform's reply to `login` (its `service_name` is not checked).
pub use bolink_types::sdk::login::HttpReturn as LoginReply;

/// The platform's synchronous acknowledgement of an upload (and of an answer
/// to a downstream message); its `service_name` echoes the message's and is
/// not checked.
pub use bolink_types::sdk::Ack;

#[cfg(test)]
mod tests {
    //! The generated types read and write what the hand-written ones they
    //! replaced did: same keys, limits and rules.

    use bolink_types::enums::State;
    use bolink_types::{decode, Message};

    use super::*;

    #[test]
    fn login_writes_its_service_name_and_accepts_data_without_it() {
        let mut login = Login::new("200208", "21835");
        login.local_id = Some("0071cc97102b_1001_qh321_quanhao-atest1".into());
        assert_eq!(
            String::from_utf8(login.encode()).unwrap(),
            r#"{"service_name":"login","union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#
        );
        // The HTTP-mode page's data: no service_name (the envelope has it).
        let page = br#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
        assert_eq!(decode::<Login>(page).unwrap(), login);
        let wrong = br#"{"service_name":"in_park","union_id":"200208","park_id":"21835"}"#;
        assert!(
            decode::<Login>(wrong).is_err(),
            "a service_name must say login"
        );
        let long = br#"{"union_id":"1234567890123456","park_id":"21835"}"#;
        assert_eq!(
            decode::<Login>(long).unwrap_err().to_string(),
            "union_id: 16 characters, at most 15"
        );
    }

    #[test]
    fn the_login_reply_ignores_service_name_and_checks_its_rules() {
        let ok =
            decode::<LoginReply>(br#"{"state":1,"token":"t0","service_name":"anything"}"#).unwrap();
        assert_eq!(ok.state, State::Success);
        assert_eq!(ok.token.as_deref(), Some("t0"));
        assert_eq!(
            decode::<LoginReply>(br#"{"state":1}"#)
                .unwrap_err()
                .to_string(),
            "token: required when state is 1"
        );
        assert_eq!(
            decode::<LoginReply>(br#"{"state":0}"#)
                .unwrap_err()
                .to_string(),
            "errmsg: required when state is 0"
        );
        let token = "a".repeat(65);
        let too_long = format!(r#"{{"state":1,"token":"{token}"}}"#);
        assert_eq!(
            decode::<LoginReply>(too_long.as_bytes())
                .unwrap_err()
                .to_string(),
            "token: 65 characters, at most 64"
        );
        // Written without service_name, as before.
        assert_eq!(
            String::from_utf8(ok.encode()).unwrap(),
            r#"{"state":1,"token":"t0"}"#
        );
    }

    #[test]
    fn the_ack_of_any_service_reads_state_and_errmsg() {
        let text =
            r#"{"service_name":"in_park","state":0,"errmsg":"error:token无效","order_id":"1"}"#;
        let ack = decode::<Ack>(text.as_bytes()).unwrap();
        assert_eq!(ack.state, State::Failure);
        assert_eq!(ack.errmsg.as_deref(), Some("error:token无效"));
        assert_eq!(
            decode::<Ack>(br#"{"state":0}"#).unwrap_err().to_string(),
            "errmsg: required when state is 0"
        );
        assert_eq!(
            serde_json::to_string(&Ack::new(State::Success)).unwrap(),
            r#"{"state":1}"#
        );
    }
}

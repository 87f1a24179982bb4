//! A minimal vendor callback server for the new API: Bolink POSTs payment
//! results, unplated-car entries and plate-status changes here.
//!
//! ```sh
//! cargo run -p bolink-http --example newapi_callback_server
//! ```
//!
//! Every path is served: configure e.g. `http://HOST:8080/bolink/outpark` as
//! the callback address (or one address for all: the data's service_name
//! picks the callback). Bodies are checked with the vendor key
//! (`BOLINK_VENDOR_KEY`), decoded as JSON or base64, validated against the
//! spec, and answered in the protocol's JSON (signed when
//! `BOLINK_SIGNED_ANSWERS` is set); services without a method below are
//! refused as "not supported".

use bolink_http::newapi::{callback_router, CallbackConfig};
use bolink_http::serve::{serve, ServeConfig};
use bolink_sdk::newapi::ReplyForm;
use bolink_sdk::{Answer, CallbackHandler, Refusal};
use bolink_sign::Key;
use bolink_types::enums::State;
use bolink_types::newapi::{nolicence_in_park, notice_car_owner, outpark};

/// The vendor's business: what to do when Bolink calls.
struct Vendor;

impl CallbackHandler for Vendor {
    /// 5.5: an electronic payment finished. Only state 1 is paid.
    async fn outpark(&self, result: outpark::Request) -> Answer<()> {
        println!(
            "order {} payment state {:?} ({:?})",
            result.order_id, result.state, result.total
        );
        match result.state {
            State::Success => Ok(()),
            _ => Err(Refusal::new("not paid; the exit will be submitted again")),
        }
    }

    /// 5.7: an unplated car scanned the entry code.
    async fn nolicence_in_park(
        &self,
        entry: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::Response> {
        println!(
            "unplated car {} at lane {}",
            entry.car_number, entry.channel_id
        );
        Ok(nolicence_in_park::Response::new(
            State::Success,
            entry.car_number,
            entry.timetemp,
        ))
    }

    /// 5.2: a plate's frictionless-payment status changed.
    async fn notice_car_owner(
        &self,
        notice: notice_car_owner::Request,
    ) -> Answer<notice_car_owner::Response> {
        println!(
            "plate {} frictionless: {}",
            notice.car_number, notice.is_union_user
        );
        Ok(notice_car_owner::Response::new(State::Success))
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let key = std::env::var("BOLINK_VENDOR_KEY").unwrap_or_else(|_| "8403A41ED5EF20BC".into());
    let form = match std::env::var_os("BOLINK_SIGNED_ANSWERS") {
        Some(_) => ReplyForm::Signed,
        None => ReplyForm::Plain,
    };
    let config = CallbackConfig::new(Key::new(key)).reply_form(form);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("callback server on http://{}", listener.local_addr()?);
    // Timeouts, a connection cap and protocol answers for every error; the
    // body limit matches the callback server's own.
    let serving = ServeConfig::new().body_limit(config.body_limit);
    serve(listener, callback_router(Vendor, config), serving).await;
    Ok(())
}

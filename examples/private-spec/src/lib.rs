//! A vendor's private Bolink interface, typed from `spec/` by
//! bolink-codegen (see `build.rs`), and a charging system that answers it.
//!
//! The generated types are bolink-types messages like any other: they
//! decode leniently, validate every rule of their table, encode exactly,
//! and are signed and dispatched by bolink-sdk. bolink-types knows neither
//! service, so the SDK platform's `query_charge_rule` reaches [`Lot`]
//! through [`Handler::other_service`], and the new API's `coupon_notice`
//! callback reaches [`Vendor`] through [`CallbackHandler::other_service`].

use bolink_sdk::{Answer, CallbackHandler, Handler, OtherAnswer, OtherService, Refusal};

/// The types generated from `spec/`.
pub mod private {
    include!(concat!(env!("OUT_DIR"), "/private_spec.rs"));
}

use private::enums::{ChargeMode, State};
use private::newapi::coupon_notice;
use private::sdk::query_charge_rule;

/// A charging system with one price rule: 5.00 per started hour.
#[derive(Debug, Default)]
pub struct Lot;

impl Lot {
    /// The lot's answer to a charge-rule query.
    pub fn charge_rule(
        &self,
        request: &query_charge_rule::Request,
    ) -> query_charge_rule::SdkReturn {
        let mut answer = query_charge_rule::SdkReturn::new(
            State::Success,
            request.park_id.clone(),
            ChargeMode::PerHour,
        );
        answer.price_per_hour = Some(bolink_types::Money::from_cents(500));
        answer
    }
}

impl Handler for Lot {
    async fn other_service(&self, message: OtherService) -> Answer<OtherAnswer> {
        if !message.is::<query_charge_rule::Request>() {
            return Err(Refusal::not_supported());
        }
        let request = message
            .decode::<query_charge_rule::Request>()
            .map_err(|e| Refusal::new(format!("invalid request: {e}")))?
            .message;
        OtherAnswer::new(&self.charge_rule(&request))
            .map_err(|report| Refusal::new(format!("invalid answer: {report}")))
    }
}

/// A vendor's callback server that takes coupons for its one park.
#[derive(Debug)]
pub struct Vendor {
    /// The park whose coupons it takes.
    pub park_id: String,
}

impl Vendor {
    /// The vendor's answer to a claimed coupon: taken for its park,
    /// refused for any other.
    pub fn take_coupon(&self, notice: &coupon_notice::Request) -> coupon_notice::Response {
        if notice.park_id == self.park_id {
            coupon_notice::Response::new(State::Success)
        } else {
            coupon_notice::Response::new(State::Failure).errmsg("not a park of ours")
        }
    }
}

impl CallbackHandler for Vendor {
    async fn other_service(&self, message: OtherService) -> Answer<OtherAnswer> {
        if !message.is::<coupon_notice::Request>() {
            return Err(Refusal::not_supported());
        }
        let notice = message
            .decode::<coupon_notice::Request>()
            .map_err(|e| Refusal::new(format!("invalid request: {e}")))?
            .message;
        OtherAnswer::new(&self.take_coupon(&notice))
            .map_err(|report| Refusal::new(format!("invalid answer: {report}")))
    }
}

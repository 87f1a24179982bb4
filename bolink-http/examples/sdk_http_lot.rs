//! A minimal charging-system integration in SDK-HTTP mode.
//!
//! It logs in, answers Bolink's price queries and unplated-car entries
//! through a handler, and polls until Ctrl-C. Try it against the simulator:
//!
//! ```sh
//! cargo run -p bolink-cli -- simulate --listen 127.0.0.1:8720 &
//! BOLINK_BASE_URL=http://127.0.0.1:8720 cargo run -p bolink-http --example sdk_http_lot
//! ```
//!
//! Without `BOLINK_BASE_URL` it talks to the platform's test address.

use std::sync::{Arc, Mutex};

use bolink_http::sdk_http::{self, ClientConfig, TEST_BASE_URL};
use bolink_sdk::{Answer, Credentials, Handler, Refusal};
use bolink_sign::Key;
use bolink_types::enums::State;
use bolink_types::sdk::{nolicence_in_park, query_price};
use bolink_types::{Money, UnixSeconds};

/// The lot's charging logic: a flat 5.00 for cars it knows. Handlers are
/// called concurrently through `&self`, so the cars sit behind a lock
/// (never held across an `.await`).
struct Lot {
    in_lot: Mutex<Vec<(String, UnixSeconds)>>,
}

impl Handler for Lot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        let plate = request.car_number.clone().unwrap_or_default();
        let in_time = self
            .in_lot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .find(|(car, _)| *car == plate)
            .map(|(_, in_time)| *in_time)
            .ok_or_else(|| Refusal::new("car not in the lot"))?;
        let minutes = (UnixSeconds::now().get() - in_time.get()) / 60;
        let order_id = request.order_id.clone().unwrap_or_default();
        let mut answer = query_price::HttpReturn::new(
            State::Success,
            minutes,
            request.park_id,
            order_id,
            Money::from_cents(500),
        );
        answer.car_number = Some(plate);
        answer.in_time = Some(in_time);
        answer.query_order_no = request.query_order_no;
        Ok(answer)
    }

    async fn nolicence_in_park(
        &self,
        request: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::HttpReturn> {
        self.in_lot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((request.car_number.clone(), request.timetemp));
        Ok(nolicence_in_park::HttpReturn::new(
            State::Success,
            request.car_number,
            request.timetemp,
        ))
    }
}

#[tokio::main]
async fn main() {
    let base_url = std::env::var("BOLINK_BASE_URL").unwrap_or_else(|_| TEST_BASE_URL.to_string());
    let credentials = Credentials::new(
        "200208",
        "21835",
        "example-lane-A1",
        Key::new("8403A41ED5EF20BC"),
    );
    let client = sdk_http::client(credentials, ClientConfig::with_base_url(base_url))
        .on_event(|event| println!("{event:?}"))
        .build();
    let lot = Lot {
        in_lot: Mutex::new(Vec::new()),
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = client.run(Arc::new(lot), shutdown).await {
        eprintln!("{e}");
    }
}

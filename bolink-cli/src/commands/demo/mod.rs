//! `bolink demo`: a day at a parking lot in miniature, on loopback.
//!
//! Starts the platform simulator and a sample lot built on bolink-sdk in
//! this process, runs each step of the protocol between them, prints every
//! message with its signature check and result, and exits 0 only when every
//! step behaved as the protocol says.

mod lot;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bolink_http::sdk_http::{
    ClientConfig, ClientError, Event, Exchange, SdkHttpClient, NO_MESSAGE,
};
use bolink_http::simulator::{DriverError, LotAnswer, Simulator, SimulatorConfig, SimulatorHandle};
use bolink_sdk::Credentials;
use bolink_sign::{sdk_http, Key};
use bolink_types::enums::PayScene;
use bolink_types::sdk::{self, nolicence_in_park, query_price};
use bolink_types::UnixSeconds;

use super::Outcome;
use lot::SampleLot;

const UNION_ID: &str = "200208";
const PARK_ID: &str = "21835";
const KEY: &str = "8403A41ED5EF20BC";

/// Runs the demo on a fresh runtime.
pub fn run() -> Outcome {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Outcome::malformed(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(demo())
}

/// What each step returns: a line saying what happened, or why it is wrong.
type StepResult = Result<String, String>;

/// The count of steps run and failed.
#[derive(Default)]
struct Tally {
    steps: usize,
    failures: usize,
}

impl Tally {
    async fn step(&mut self, title: &str, body: impl Future<Output = StepResult>) {
        self.steps += 1;
        println!("\n== {}. {title}", self.steps);
        let outcome = body.await;
        // Let the lot's acknowledgement exchange print before the verdict.
        tokio::time::sleep(Duration::from_millis(50)).await;
        match outcome {
            Ok(line) => println!("   ok: {line}"),
            Err(line) => {
                self.failures += 1;
                println!("   FAILED: {line}");
            }
        }
    }
}

async fn demo() -> Outcome {
    let config = SimulatorConfig {
        poll_hold: Duration::from_secs(1),
        answer_timeout: Duration::from_secs(2),
        ..SimulatorConfig::default()
    };
    let sim = match Simulator::new(config)
        .park(UNION_ID, PARK_ID, Key::new(KEY))
        .start(([127, 0, 0, 1], 0).into())
        .await
    {
        Ok(sim) => sim,
        Err(e) => return Outcome::malformed(format!("cannot start the simulator: {e}")),
    };
    println!(
        "platform simulator on {}; lot {PARK_ID} of vendor {UNION_ID}",
        sim.base_url()
    );
    let credentials = Credentials::new(UNION_ID, PARK_ID, "demo-lane-A1", Key::new(KEY));
    let client = Arc::new(
        SdkHttpClient::new(credentials, ClientConfig::with_base_url(sim.base_url()))
            .observe(print_exchange),
    );
    let lot = SampleLot::default();
    let mut day = Tally::default();

    let login_client = client.clone();
    day.step(
        "The lot logs in (login, signed with the vendor key)",
        async move {
            login_client
                .login()
                .await
                .map(|()| "the platform checked the sign and issued a token".to_string())
                .map_err(|e| e.to_string())
        },
    )
    .await;
    let stop = start_polling(client.clone(), lot.clone());

    let in_time = UnixSeconds(UnixSeconds::now().get() - 95 * 60);
    lot.books
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .enter("京A12345", in_time);
    day.step(
        "A driver scans the lot's code and asks the price (query_price)",
        price_query(&sim, "京A12345"),
    )
    .await;

    day.step(
        "An unplated car enters by scanning the entry QR code (nolicence_in_park)",
        async {
            let request = nolicence_in_park::Request::new(
                "QR8842".into(),
                PARK_ID.into(),
                "A1".into(),
                UnixSeconds::now(),
            );
            match sim.call(PARK_ID, &request.into()).await {
                Ok(LotAnswer::Answered(_)) => {
                    Ok("the lot opened an order for the unplated car QR8842".into())
                }
                other => Err(format!("expected an answer, got {other:?}")),
            }
        },
    )
    .await;

    day.step(
        "A downstream message with a wrong sign is rejected by the lot",
        async {
            let request: sdk::Request =
                query_price::Request::new(PARK_ID.into(), PayScene::InLotPrepay).into();
            let data = String::from_utf8(request.encode()).unwrap_or_default();
            let forged = sdk_http::build("query_price", None, &data, &Key::new("not-the-key"))
                .map_err(|e| e.to_string())?;
            match sim.call_raw(PARK_ID, "query_price", forged).await {
                Err(DriverError::Timeout(_)) => {
                    Ok("the lot dropped it unanswered: nothing unsigned is trusted".into())
                }
                other => Err(format!("the forged message was answered: {other:?}")),
            }
        },
    )
    .await;

    day.step("A lot with the wrong key cannot log in", async {
        let credentials = Credentials::new(UNION_ID, PARK_ID, "impostor", Key::new("guessed-key"));
        let impostor = SdkHttpClient::new(credentials, ClientConfig::with_base_url(sim.base_url()))
            .observe(print_exchange);
        match impostor.login().await {
            Err(ClientError::Session(e)) => Ok(format!("the platform refused it: {e}")),
            other => Err(format!("expected a refusal, got {other:?}")),
        }
    })
    .await;

    let _ = stop.send(());
    let Tally { steps, failures } = day;
    sim.shutdown().await;
    if failures == 0 {
        println!("\nall {steps} steps behaved as the protocol says");
        Outcome::Success
    } else {
        println!("\n{failures} of {steps} steps did not behave as the protocol says");
        Outcome::Failed
    }
}

async fn price_query(sim: &SimulatorHandle, plate: &str) -> StepResult {
    let mut request = query_price::Request::new(PARK_ID.into(), PayScene::InLotPrepay);
    request.car_number = Some(plate.into());
    request.order_id = Some(String::new());
    match sim.call(PARK_ID, &request.into()).await {
        Ok(LotAnswer::Answered(message)) => match *message {
            sdk::Message::HttpReturn(sdk::HttpReturn::QueryPrice(answer)) => Ok(format!(
                "{plate} owes {} for {} minutes (order {})",
                answer.price, answer.duration, answer.order_id
            )),
            other => Err(format!("unexpected answer {other:?}")),
        },
        other => Err(format!("expected a price, got {other:?}")),
    }
}

/// Runs the lot's long-poll loop until the returned sender fires.
fn start_polling(client: Arc<SdkHttpClient>, lot: SampleLot) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut handler = lot;
        let shutdown = async {
            let _ = stopped.await;
        };
        client.run(&mut handler, shutdown, print_event).await;
    });
    stop
}

fn print_exchange(exchange: Exchange<'_>) {
    if exchange.response == NO_MESSAGE.as_bytes() {
        return; // an empty long poll
    }
    println!(
        "   -> POST {} {}",
        exchange.path,
        String::from_utf8_lossy(exchange.request)
    );
    println!(
        "   <- {} {}",
        exchange.status,
        String::from_utf8_lossy(exchange.response)
    );
}

fn print_event(event: Event<'_>) {
    match event {
        Event::Answered(done) => match &done.refusal {
            None => println!(
                "   lot: sign ok, {} answered by the handler",
                done.service_name
            ),
            Some(refusal) => println!("   lot: sign ok, {} {refusal}", done.service_name),
        },
        Event::Delivered(record) => println!(
            "   lot: {} acknowledged, removed from the outbox",
            record.idempotency_key
        ),
        Event::Rejected(record, errmsg) => println!(
            "   lot: {} refused by the platform: {errmsg}",
            record.idempotency_key
        ),
        Event::Expired(record) => {
            println!("   lot: {} expired undelivered", record.idempotency_key)
        }
        Event::Error(e) => println!("   lot: {e}"),
    }
}

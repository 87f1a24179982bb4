//! `bolink demo`: a day at a parking lot in miniature, on loopback.
//!
//! Starts the platform simulator and a sample lot built on bolink-sdk in
//! this process, runs each step of the protocol between them, prints every
//! message with its signature check and result, and exits 0 only when every
//! step behaved as the protocol says.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bolink_http::sdk_http::{ClientConfig, SdkHttpTransport, NO_MESSAGE};
use bolink_http::simulator::{DriverError, LotAnswer, Simulator, SimulatorConfig, SimulatorHandle};
use bolink_http::Exchange;
use bolink_sdk::engine::{Dialect, Engine, EngineError, Event, Outcome as Delivery, Transport};
use bolink_sdk::Credentials;
use bolink_sign::{sdk_http, Key};
use bolink_tcp::{TcpConfig, TcpTransport};
use bolink_types::enums::{CarCostType, CarType, EntryExitType, PayScene, PayType, State};
use bolink_types::sdk::{self, in_park, nolicence_in_park, out_park, prepay_order, query_price};
use bolink_types::UnixSeconds;

use super::sample_lot::{self as lot, SampleLot};
use super::Outcome;

const UNION_ID: &str = "200208";
const PARK_ID: &str = "21835";
const KEY: &str = "8403A41ED5EF20BC";

/// Runs the demo on a fresh runtime.
/// Runs the demo over `link` (SDK-HTTP mode, or the SDK's TCP link).
pub fn run(link: super::lot::Link) -> Outcome {
    super::on_runtime(async move {
        match link {
            super::lot::Link::Http => {
                demo(|sim| {
                    SdkHttpTransport::new(ClientConfig::with_base_url(sim.base_url()))
                        .observe(print_exchange)
                })
                .await
            }
            super::lot::Link::Tcp => {
                demo(|sim| {
                    let address = sim.tcp_addr().map(|a| a.to_string()).unwrap_or_default();
                    TcpTransport::new(TcpConfig::with_address(address)).observe(print_tcp_exchange)
                })
                .await
            }
        }
    })
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

async fn demo<T: Transport>(link: impl Fn(&SimulatorHandle) -> T) -> Outcome {
    let config = SimulatorConfig::default()
        .poll_hold(Duration::from_secs(1))
        .answer_timeout(Duration::from_secs(2));
    let simulator = Simulator::new(config)
        .park(UNION_ID, PARK_ID, Key::new(KEY))
        .tcp(([127, 0, 0, 1], 0).into());
    let sim = match simulator.start(([127, 0, 0, 1], 0).into()).await {
        Ok(sim) => sim,
        Err(e) => return Outcome::malformed(format!("cannot start the simulator: {e}")),
    };
    println!(
        "platform simulator on {}; lot {PARK_ID} of vendor {UNION_ID}",
        sim.base_url()
    );
    let credentials = Credentials::new(UNION_ID, PARK_ID, "demo-lane-A1", Key::new(KEY));
    let client = lot_client(credentials, link(&sim));
    let lot = SampleLot::default();
    let mut day = Tally::default();

    day.step(
        "The lot logs in (login, signed with the vendor key)",
        login(&client),
    )
    .await;
    let running = start_running(&client, lot.clone());
    let plate = "京A12345";
    let arrived = UnixSeconds(UnixSeconds::now().get() - 95 * 60);
    day.step(
        "A car enters; the lot uploads the entry (in_park)",
        car_enters(&sim, &client, &lot, plate, arrived),
    )
    .await;
    day.step(
        "The driver scans the lot's code and asks the price (query_price)",
        price_query(&sim, plate),
    )
    .await;
    day.step(
        "The driver pays in the lot (prepay_order)",
        driver_prepays(&sim, &lot, plate),
    )
    .await;
    day.step(
        "The car leaves; the lot uploads the exit (out_park)",
        car_leaves(&sim, &client, &lot, plate),
    )
    .await;
    day.step(
        "An unplated car enters by scanning the entry QR code (nolicence_in_park)",
        unplated_entry(&sim, &client, &lot),
    )
    .await;
    day.step(
        "A downstream message with a wrong sign is rejected by the lot",
        forged_message(&sim),
    )
    .await;
    day.step(
        "A lot with the wrong key cannot log in",
        impostor_login(link(&sim)),
    )
    .await;

    client.shutdown();
    let _ = running.await;
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

async fn login<T: Transport>(client: &Engine<T>) -> StepResult {
    client.login().await.map_err(|e| e.to_string())?;
    Ok("the platform checked the sign and issued a token".into())
}

/// Opens the order in the lot's books and uploads it; checks the platform took it.
async fn upload_entry<T: Transport>(
    sim: &SimulatorHandle,
    client: &Engine<T>,
    lot: &SampleLot,
    plate: &str,
    at: UnixSeconds,
    kind: CarCostType,
) -> StepResult {
    let car = lot.books().enter(plate, at);
    let mut entry = in_park::Request::new(
        plate,
        at,
        CarType::Small,
        EntryExitType::LanePlateScan,
        "gate-1",
        car.order_id.clone(),
        120,
        "A1",
    );
    entry.car_cost_type = Some(kind);
    let ticket = client.upload(&entry).await.map_err(|e| e.to_string())?;
    match ticket.outcome().await {
        Delivery::Delivered { record, .. } if in_park_at(sim, &car.order_id) => Ok(format!(
            "order {} is in the platform's books ({})",
            car.order_id, record.idempotency_key
        )),
        other => Err(format!("the entry was not taken: {other:?}")),
    }
}

async fn car_enters<T: Transport>(
    sim: &SimulatorHandle,
    client: &Engine<T>,
    lot: &SampleLot,
    plate: &str,
    at: UnixSeconds,
) -> StepResult {
    upload_entry(sim, client, lot, plate, at, CarCostType::Temporary).await
}

async fn price_query(sim: &SimulatorHandle, plate: &str) -> StepResult {
    let mut request = query_price::Request::new(PARK_ID, PayScene::InLotPrepay);
    request.car_number = Some(plate.into());
    request.order_id = Some(String::new());
    // HTTP mode answers in the http_return table, the SDK's link in sdk_return.
    let (price, duration, order_id) = match answer_of(sim.call(PARK_ID, &request.into()).await)? {
        sdk::Message::HttpReturn(sdk::HttpReturn::QueryPrice(a)) => {
            (a.price, a.duration, a.order_id)
        }
        sdk::Message::SdkReturn(sdk::SdkReturn::QueryPrice(a)) => (a.price, a.duration, a.order_id),
        other => return Err(format!("unexpected answer {other:?}")),
    };
    Ok(format!(
        "{plate} owes {price} for {duration} minutes (order {order_id})"
    ))
}

async fn driver_prepays(sim: &SimulatorHandle, lot: &SampleLot, plate: &str) -> StepResult {
    let car = lot
        .books()
        .cars
        .get(plate)
        .cloned()
        .ok_or("the car is not in the lot")?;
    let minutes = (UnixSeconds::now().get() - car.in_time.get()) / 60;
    let fee = lot::price_of(minutes, car.prepaid);
    let request = prepay_order::Request::new(
        plate,
        fee,
        car.order_id.clone(),
        PARK_ID,
        "T20261123000001",
        UnixSeconds::now(),
    );
    match answer_of(sim.call(PARK_ID, &request.into()).await)? {
        sdk::Message::SdkReturn(sdk::SdkReturn::PrepayOrder(answer))
            if answer.state == State::Success =>
        {
            Ok(format!(
                "the lot booked {fee} prepaid on order {}",
                car.order_id
            ))
        }
        other => Err(format!("unexpected answer {other:?}")),
    }
}

async fn car_leaves<T: Transport>(
    sim: &SimulatorHandle,
    client: &Engine<T>,
    lot: &SampleLot,
    plate: &str,
) -> StepResult {
    let car = lot
        .books()
        .cars
        .remove(plate)
        .ok_or("the car is not in the lot")?;
    let now = UnixSeconds::now();
    let due = lot::price_of((now.get() - car.in_time.get()) / 60, car.prepaid);
    let mut exit = out_park::Request::new(
        plate,
        car.in_time,
        now,
        "gate-2",
        PayType::Cash,
        121,
        due,
        car.order_id.clone(),
    );
    exit.duration = Some((now.get() - car.in_time.get()) / 60);
    exit.out_channel_id = Some("B1".into());
    let ticket = client.upload(&exit).await.map_err(|e| e.to_string())?;
    match ticket.outcome().await {
        Delivery::Delivered { .. } if !in_park_at(sim, &car.order_id) => Ok(format!(
            "prepaid {}, {due} left to collect; order {} closed on the platform",
            car.prepaid, car.order_id
        )),
        other => Err(format!("the exit was not taken: {other:?}")),
    }
}

async fn unplated_entry<T: Transport>(
    sim: &SimulatorHandle,
    client: &Engine<T>,
    lot: &SampleLot,
) -> StepResult {
    let request = nolicence_in_park::Request::new("QR8842", PARK_ID, "A1", UnixSeconds::now());
    let entered = match answer_of(sim.call(PARK_ID, &request.into()).await)? {
        sdk::Message::HttpReturn(sdk::HttpReturn::NolicenceInPark(a)) => {
            (a.state, a.car_number, a.timetemp)
        }
        sdk::Message::SdkReturn(sdk::SdkReturn::NolicenceInPark(a)) => {
            (a.state, a.car_number, a.timetemp)
        }
        other => return Err(format!("unexpected answer {other:?}")),
    };
    match entered {
        (State::Success, car_number, timetemp) => {
            // The handler let the car in; the entry is uploaded like any other.
            lot.books().cars.remove(&car_number);
            upload_entry(
                sim,
                client,
                lot,
                &car_number,
                timetemp,
                CarCostType::Unplated,
            )
            .await
        }
        other => Err(format!("the lot refused the unplated car: {other:?}")),
    }
}

async fn forged_message(sim: &SimulatorHandle) -> StepResult {
    let request: sdk::Request = query_price::Request::new(PARK_ID, PayScene::InLotPrepay).into();
    let data = String::from_utf8(request.encode()).map_err(|e| e.to_string())?;
    let forged = sdk_http::build("query_price", None, &data, &Key::new("not-the-key"))
        .map_err(|e| e.to_string())?;
    match sim.call_raw(PARK_ID, "query_price", forged).await {
        Err(DriverError::Timeout(_)) => {
            Ok("the lot dropped it unanswered: nothing unsigned is trusted".into())
        }
        other => Err(format!("the forged message was answered: {other:?}")),
    }
}

async fn impostor_login<T: Transport>(transport: T) -> StepResult {
    let credentials = Credentials::new(UNION_ID, PARK_ID, "impostor", Key::new("guessed-key"));
    let impostor = lot_client(credentials, transport);
    match impostor.login().await {
        Err(EngineError::NoSession(reason)) => Ok(format!("the platform refused it: {reason}")),
        other => Err(format!("expected a refusal, got {other:?}")),
    }
}

/// The lot's answer, when it answered (rather than refused or stayed silent).
fn answer_of(outcome: Result<LotAnswer, DriverError>) -> Result<sdk::Message, String> {
    match outcome {
        Ok(LotAnswer::Answered(message)) => Ok(*message),
        other => Err(format!("expected an answer, got {other:?}")),
    }
}

fn in_park_at(sim: &SimulatorHandle, order_id: &str) -> bool {
    sim.in_park().iter().any(|order| order.order_id == order_id)
}

/// The lot's SDK-HTTP client, printing every exchange and event.
fn lot_client<T: Transport>(credentials: Credentials, transport: T) -> Engine<T> {
    Engine::builder(transport, Dialect::sdk(credentials))
        .on_event(print_event)
        .build()
}

/// Runs the lot (uploads and long polls) until the client is shut down.
fn start_running<T: Transport>(client: &Engine<T>, lot: SampleLot) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        let _ = client.run(Arc::new(lot), std::future::pending()).await;
    })
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

fn print_tcp_exchange(exchange: bolink_tcp::Exchange<'_>) {
    println!("   -> tcp {}", String::from_utf8_lossy(exchange.request));
    println!("   <- {}", String::from_utf8_lossy(exchange.answer));
}

fn print_event(event: &Event) {
    match event {
        Event::Answered { downstream, .. } => match &downstream.refusal {
            None => println!(
                "   lot: sign ok, {} answered by the handler",
                downstream.service_name
            ),
            Some(refusal) => println!("   lot: sign ok, {} {refusal}", downstream.service_name),
        },
        Event::Unanswered(why) => println!("   lot: not answered: {why}"),
        Event::Delivered { record, .. } => println!(
            "   lot: {} acknowledged, removed from the outbox",
            record.idempotency_key
        ),
        Event::Refused { record, errmsg } => println!(
            "   lot: {} refused by the platform: {errmsg}",
            record.idempotency_key
        ),
        Event::Expired { record } => {
            println!("   lot: {} expired undelivered", record.idempotency_key)
        }
        Event::LinkFailed(e) => println!("   lot: {e}"),
        _ => {}
    }
}

//! `bolink lot`: a reference charging system built on the delivery engine,
//! for trying a platform (the simulator, or Bolink's test platform with
//! real credentials) from a shell, and for testing the engine from outside.
//!
//! It speaks SDK-HTTP mode (`--transport http --base-url URL`, the default)
//! or the SDK's TCP link (`--transport tcp --tcp-address HOST:PORT`) over
//! the same engine, logs in, uploads `--enter N` entries (order ids `LOCAL_ID-0` ..,
//! plates `京A00000` ..) and, with `--exits`, an exit for each, answers
//! downstream messages through the sample lot's handler (5.00 per started
//! hour), prints one line per exchange and per engine event, and ends with
//! one JSON line of counts. With `--outbox FILE` its uploads are kept in a
//! redb file and its progress beside it (`FILE.progress`): killed and
//! started again on the same file, it carries on where it stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bolink_http::sdk_http::{ClientConfig, SdkHttpTransport, NO_MESSAGE};
use bolink_sdk::engine::{Dialect, Engine, EngineConfig, Event, Pacing, Transport};
use bolink_sdk::outbox::RedbStore;
use bolink_sdk::Credentials;
use bolink_sign::Key;
use bolink_tcp::{TcpConfig, TcpTransport};
use bolink_types::enums::{CarType, EntryExitType, PayType};
use bolink_types::sdk::{in_park, out_park};
use bolink_types::UnixSeconds;

use super::sample_lot::{price_of, SampleLot};
use super::Outcome;
use crate::keys::KeyArgs;

/// The lot: `UNION_ID:PARK_ID`, or `UNION_ID:PARK_ID:KEY` with the key
/// inline (as `--key` would give it).
#[derive(Debug, Clone)]
pub struct LotPark {
    union_id: String,
    park_id: String,
    key: Option<String>,
}

impl std::str::FromStr for LotPark {
    type Err = String;

    fn from_str(s: &str) -> Result<LotPark, String> {
        let mut parts = s.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(union_id), Some(park_id), key)
                if !union_id.is_empty() && !park_id.is_empty() && key != Some("") =>
            {
                Ok(LotPark {
                    union_id: union_id.into(),
                    park_id: park_id.into(),
                    key: key.map(str::to_owned),
                })
            }
            _ => Err(format!("expected UNION_ID:PARK_ID[:KEY], got {s:?}")),
        }
    }
}

/// Which link a lot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Link {
    /// SDK-HTTP mode: uploads POSTed, downstream messages long-polled.
    Http,
    /// The SDK's TCP link: `\n` JSON `\r` frames, heartbeats.
    Tcp,
}

/// The arguments of `bolink lot`.
#[derive(Debug, clap::Args)]
pub struct LotArgs {
    /// The link to the platform.
    #[arg(long, value_enum, default_value = "http")]
    transport: Link,
    /// The platform's base address for `--transport http` (e.g.
    /// http://127.0.0.1:8720 for `bolink simulate`).
    #[arg(long, required_if_eq("transport", "http"))]
    base_url: Option<String>,
    /// The platform's HOST:PORT for `--transport tcp` (e.g. 127.0.0.1:6789
    /// for `bolink simulate --tcp-listen`).
    #[arg(long, required_if_eq("transport", "tcp"))]
    tcp_address: Option<String>,
    /// The lot, as UNION_ID:PARK_ID (the key from --key, --key-file or
    /// BOLINK_KEY) or UNION_ID:PARK_ID:KEY.
    #[arg(long)]
    park: LotPark,
    #[command(flatten)]
    keys: KeyArgs,
    /// This charging-system instance (may bind lanes: `mac001_channels_A1_A2`).
    #[arg(long, default_value = "bolink-lot")]
    local_id: String,
    /// Keep the outbox in this redb file (and the progress in FILE.progress).
    #[arg(long)]
    outbox: Option<PathBuf>,
    /// How many entries to upload.
    #[arg(long, default_value_t = 0)]
    enter: u64,
    /// Upload an exit for every entry after the entries.
    #[arg(long)]
    exits: bool,
    /// Entries (and exits) generated per second; as fast as they are stored when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Uploads sent per second at most (the platform asks for fewer than 10; 0: unpaced).
    #[arg(long, default_value_t = 8)]
    upload_rate: u32,
    /// Keep running (answering downstream messages) for this many seconds;
    /// without it, stop once every upload is settled.
    #[arg(long)]
    run_for: Option<f64>,
}

/// How far earlier runs on the same outbox got.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Progress {
    entered: u64,
    exited: u64,
}

impl Progress {
    fn path(outbox: &Path) -> PathBuf {
        let mut name = outbox.as_os_str().to_owned();
        name.push(".progress");
        PathBuf::from(name)
    }

    fn load(outbox: Option<&Path>) -> Result<Progress, String> {
        let Some(outbox) = outbox else {
            return Ok(Progress::default());
        };
        let path = Progress::path(outbox);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut numbers = text.split_whitespace().map(str::parse::<u64>);
                match (numbers.next(), numbers.next()) {
                    (Some(Ok(entered)), Some(Ok(exited))) => Ok(Progress { entered, exited }),
                    _ => Err(format!("{} is not `ENTERED EXITED`", path.display())),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Saved atomically, after the upload it counts was stored: a kill in
    /// between re-uploads that one on restart, and the platform recognises
    /// the re-send by its order_id.
    fn save(&self, outbox: Option<&Path>) -> Result<(), String> {
        let Some(outbox) = outbox else {
            return Ok(());
        };
        let path = Progress::path(outbox);
        let tmp = path.with_extension("progress.tmp");
        std::fs::write(&tmp, format!("{} {}\n", self.entered, self.exited))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot save {}: {e}", path.display()))
    }
}

impl LotArgs {
    /// The key options, for `main` to complete.
    pub fn keys_mut(&mut self) -> &mut KeyArgs {
        &mut self.keys
    }

    /// The lot's key: inline in --park, or from the key options.
    fn key(&self) -> Result<Key, Outcome> {
        match &self.park.key {
            Some(_) if self.keys.on_command_line() => Err(Outcome::malformed(
                "the key is given twice: in --park and by --key or --key-file",
            )),
            // Inline, the key is a --key: it outranks BOLINK_KEY.
            Some(key) => Ok(Key::new(key.clone())),
            None => self.keys.single(),
        }
    }
}

/// Runs the lot.
pub fn run(args: LotArgs) -> Outcome {
    let key = match args.key() {
        Ok(key) => key,
        Err(outcome) => return outcome,
    };
    super::on_runtime(lot(args, key))
}

fn plate(i: u64) -> String {
    format!("京A{:05}", i % 100_000)
}

/// When car `i` entered: a fixed time per car, so a restarted lot charges
/// it the same.
fn in_time(start: i64, i: u64) -> UnixSeconds {
    UnixSeconds(start - 3600 + i as i64 % 3600)
}

async fn lot(args: LotArgs, key: Key) -> Outcome {
    match args.transport {
        Link::Http => {
            let base_url = args.base_url.clone().unwrap_or_default();
            let transport = SdkHttpTransport::new(ClientConfig::with_base_url(base_url))
                .observe(print_http_exchange);
            lot_over(args, key, transport).await
        }
        Link::Tcp => {
            let address = args.tcp_address.clone().unwrap_or_default();
            let transport =
                TcpTransport::new(TcpConfig::with_address(address)).observe(print_tcp_exchange);
            lot_over(args, key, transport).await
        }
    }
}

async fn lot_over<T: Transport>(args: LotArgs, key: Key, transport: T) -> Outcome {
    let outbox = args.outbox.as_deref();
    let mut progress = match Progress::load(outbox) {
        Ok(progress) => progress,
        Err(e) => return Outcome::malformed(e),
    };
    let credentials = Credentials::new(
        args.park.union_id.clone(),
        args.park.park_id.clone(),
        args.local_id.clone(),
        key,
    );
    let pacing = match args.upload_rate {
        0 => Pacing::unlimited(),
        rate => Pacing::default().uploads_per_second(rate),
    };
    let mut builder = Engine::builder(transport, Dialect::sdk(credentials))
        .config(EngineConfig::default().pacing(pacing))
        .on_event(print_event);
    if let Some(path) = outbox {
        match RedbStore::open(path).await {
            Ok(store) => builder = builder.store(store),
            Err(e) => return Outcome::malformed(format!("outbox {}: {e}", path.display())),
        }
    }
    let client = builder.build();
    let lot = SampleLot::default();
    // The cars earlier runs let in are still in the lot.
    let start = UnixSeconds::now().get();
    for i in progress.exited..progress.entered {
        lot.books()
            .enter_as(&plate(i), &order_id(&args.local_id, i), in_time(start, i));
    }
    let running = tokio::spawn({
        let (client, lot) = (client.clone(), lot.clone());
        async move { client.run(Arc::new(lot), std::future::pending()).await }
    });
    let ctrl_c = tokio::spawn({
        let client = client.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                client.shutdown();
            }
        }
    });
    let generated = generate(&args, &client, &lot, &mut progress, start).await;
    if let Err(e) = generated {
        client.shutdown();
        let _ = running.await;
        return Outcome::malformed(e);
    }
    match args.run_for {
        Some(seconds) => {
            tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0))).await;
        }
        None => loop {
            match client.pending().await {
                Ok(0) => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => {
                    tracing::error!(error = %e, "outbox unreadable");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        },
    }
    client.shutdown();
    let _ = running.await;
    ctrl_c.abort();
    let stats = client.stats();
    let pending = client.pending().await.unwrap_or(usize::MAX);
    // In this order, as the summary is documented (a json! map would sort).
    println!(
        r#"{{"enqueued":{},"delivered":{},"refused":{},"pending":{pending},"logins":{}}}"#,
        stats.enqueued, stats.delivered, stats.refused, stats.logins
    );
    if stats.refused == 0 && (pending == 0 || args.run_for.is_some()) {
        Outcome::Success
    } else {
        Outcome::Failed
    }
}

fn order_id(local_id: &str, i: u64) -> String {
    // Order ids are at most 32 characters in the tables.
    let prefix: String = local_id.chars().take(20).collect();
    format!("{prefix}-{i}")
}

/// Stores the entries (and exits) not stored by an earlier run.
async fn generate<T: Transport>(
    args: &LotArgs,
    client: &Engine<T>,
    lot: &SampleLot,
    progress: &mut Progress,
    start: i64,
) -> Result<(), String> {
    let spacing = args
        .rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(1.0 / rate));
    let outbox = args.outbox.as_deref();
    while progress.entered < args.enter {
        let i = progress.entered;
        let car = lot
            .books()
            .enter_as(&plate(i), &order_id(&args.local_id, i), in_time(start, i));
        let entry = in_park::Request::new(
            plate(i),
            car.in_time,
            CarType::Small,
            EntryExitType::LanePlateScan,
            "lot",
            car.order_id.clone(),
            100,
            "A1",
        );
        client
            .upload(&entry)
            .await
            .map_err(|e| format!("entry {i}: {e}"))?;
        progress.entered += 1;
        progress.save(outbox)?;
        if let Some(spacing) = spacing {
            tokio::time::sleep(spacing).await;
        }
    }
    while args.exits && progress.exited < progress.entered {
        let i = progress.exited;
        let car = lot.books().cars.remove(&plate(i));
        let in_time = car.as_ref().map_or(in_time(start, i), |car| car.in_time);
        let now = UnixSeconds::now();
        let minutes = (now.get() - in_time.get()).max(0) / 60;
        let prepaid = car.map(|car| car.prepaid).unwrap_or_default();
        let mut exit = out_park::Request::new(
            plate(i),
            in_time,
            now,
            "lot",
            PayType::Cash,
            100,
            price_of(minutes, prepaid),
            order_id(&args.local_id, i),
        );
        exit.duration = Some(minutes);
        client
            .upload(&exit)
            .await
            .map_err(|e| format!("exit {i}: {e}"))?;
        progress.exited += 1;
        progress.save(outbox)?;
        if let Some(spacing) = spacing {
            tokio::time::sleep(spacing).await;
        }
    }
    Ok(())
}

fn print_http_exchange(exchange: bolink_http::Exchange<'_>) {
    if exchange.response == NO_MESSAGE.as_bytes() {
        return; // an empty long poll
    }
    let service = serde_json::from_slice::<serde_json::Value>(exchange.request)
        .ok()
        .and_then(|request| request["service_name"].as_str().map(String::from))
        .unwrap_or_else(|| "poll".into());
    let answer = String::from_utf8_lossy(exchange.response);
    let answer: String = answer.chars().take(160).collect();
    println!(
        "exchange {} {service} -> {} {answer}",
        exchange.path, exchange.status
    );
}

fn print_tcp_exchange(exchange: bolink_tcp::Exchange<'_>) {
    let answer = String::from_utf8_lossy(exchange.answer);
    let answer: String = answer.chars().take(160).collect();
    println!("exchange tcp {} -> {answer}", exchange.service_name);
}

fn print_event(event: &Event) {
    match event {
        Event::LoggedIn { generation } => println!("event logged in (login {generation})"),
        Event::LoginFailed { reason, retry_in } => {
            println!("event login failed: {reason}; next in {retry_in:?}")
        }
        Event::TokenRefused { reason } => println!("event token refused: {reason}"),
        Event::Delivered { record, duplicate } => println!(
            "event delivered {}{}",
            record.idempotency_key,
            if *duplicate {
                " (the platform had it)"
            } else {
                ""
            }
        ),
        Event::Refused { record, errmsg } => {
            println!("event refused {}: {errmsg}", record.idempotency_key)
        }
        Event::Retrying { record, reason } => println!(
            "event retrying {} (attempt {}): {reason}",
            record.idempotency_key, record.attempts
        ),
        Event::Expired { record } => println!("event expired {}", record.idempotency_key),
        Event::Damaged(damaged) => println!("event damaged record set aside: {}", damaged.reason),
        Event::StoreFailed(e) => println!("event store failed: {e}"),
        Event::LinkFailed(e) => println!("event link failed: {e}"),
        Event::Answered {
            downstream,
            delivered,
        } => {
            println!(
                "event answered {}{}{}",
                downstream.service_name,
                match &downstream.refusal {
                    Some(refusal) => format!(" ({refusal})"),
                    None => String::new(),
                },
                if *delivered {
                    ""
                } else {
                    ", answer not delivered"
                }
            );
            // What the platform sent in another form than its table gives.
            for slip in &downstream.slips {
                println!("warning {}: {slip}", downstream.service_name);
            }
        }
        Event::Unanswered(why) => println!("event not answered: {why}"),
        Event::HandlerPanicked { service_name } => {
            println!("event handler panicked on {service_name}")
        }
        _ => println!("event {event:?}"),
    }
}

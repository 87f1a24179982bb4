//! What the crates log through `tracing`, captured from a real run: a lot
//! on the engine over SDK-HTTP mode against the simulator (one upload, one
//! downstream message), and the new API's callback server sent a forged
//! and an unsigned callback.
//!
//! One test in this binary: it installs the process's global subscriber.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bolink_http::newapi::{callback_router, CallbackConfig};
use bolink_http::sdk_http::{ClientConfig, SdkHttpTransport};
use bolink_http::serve::{serve, ServeConfig};
use bolink_http::simulator::{LotAnswer, Simulator, SimulatorConfig};
use bolink_sdk::engine::{Dialect, Engine, Outcome};
use bolink_sdk::{Answer, CallbackHandler, Credentials, Handler, Refusal};
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::Key;
use bolink_types::enums::{CarType, EntryExitType, PayScene, State};
use bolink_types::sdk::{in_park, query_price};
use bolink_types::{Money, UnixSeconds};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

const UNION: &str = "200208";
const PARK: &str = "21835";
const KEY: &str = "8403A41ED5EF20BC";
const VENDOR_KEY: &str = "C0FFEE0123456789";

/// A lot that charges 5.00 for any car.
struct Lot;

impl Handler for Lot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        let order_id = request.order_id.ok_or_else(|| Refusal::new("no order"))?;
        let mut answer = query_price::HttpReturn::new(
            State::Success,
            60,
            request.park_id,
            order_id,
            Money::from_cents(500),
        );
        answer.car_number = request.car_number;
        answer.in_time = Some(UnixSeconds(1_561_676_330));
        Ok(answer)
    }
}

struct Vendor;

impl CallbackHandler for Vendor {}

/// Every field of a span or event, as text.
type Fields = BTreeMap<String, String>;

#[derive(Default)]
struct FieldText(Fields);

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

#[derive(Debug, Clone)]
struct SeenSpan {
    name: &'static str,
    fields: Fields,
}

#[derive(Debug, Clone)]
struct SeenEvent {
    level: Level,
    fields: Fields,
    /// The names of the spans it happened in, outermost first.
    scope: Vec<&'static str>,
}

/// Collects every span (with the fields recorded later) and event.
#[derive(Default, Clone)]
struct Collector {
    spans: Arc<Mutex<Vec<SeenSpan>>>,
    events: Arc<Mutex<Vec<SeenEvent>>>,
}

/// Where a span's entry in `Collector::spans` is.
struct Slot(usize);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collector {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = FieldText::default();
        attrs.record(&mut fields);
        let mut spans = self.spans.lock().unwrap();
        spans.push(SeenSpan {
            name: attrs.metadata().name(),
            fields: fields.0,
        });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(slot) = span.extensions().get::<Slot>().map(|slot| slot.0) else {
            return;
        };
        let mut fields = FieldText::default();
        values.record(&mut fields);
        self.spans.lock().unwrap()[slot].fields.extend(fields.0);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = FieldText::default();
        event.record(&mut fields);
        let scope = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().map(|span| span.name()).collect())
            .unwrap_or_default();
        self.events.lock().unwrap().push(SeenEvent {
            level: *event.metadata().level(),
            fields: fields.0,
            scope,
        });
    }
}

/// A `fmt` writer into a buffer.
#[derive(Default, Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

#[test]
fn exchanges_are_spans_secrets_stay_out_and_forged_callbacks_warn() {
    let collector = Collector::default();
    let (info, everything) = (Buffer::default(), Buffer::default());
    let subscriber = tracing_subscriber::registry()
        .with(collector.clone())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(info.clone())
                .with_filter(LevelFilter::INFO),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(everything.clone())
                .with_filter(LevelFilter::TRACE),
        );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let token = Arc::new(Mutex::new(None::<String>));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(token.clone()));
    drop(runtime);

    let spans = collector.spans.lock().unwrap().clone();
    let events = collector.events.lock().unwrap().clone();
    let span = |name: &str, service: &str| {
        spans
            .iter()
            .find(|s| {
                s.name == name && s.fields.get("service_name").map(String::as_str) == Some(service)
            })
            .unwrap_or_else(|| panic!("no {name} span for {service}: {spans:#?}"))
            .clone()
    };

    // The upload: a span with its service, park, order and outcome.
    let upload = span("upload", "in_park");
    assert_eq!(upload.fields["direction"], "up");
    assert_eq!(upload.fields["park_id"], PARK);
    assert_eq!(upload.fields["order_id"], "o-trace-1");
    assert_eq!(upload.fields["outcome"], "delivered");
    assert!(upload.fields.contains_key("duration_ms"), "{upload:?}");
    // The login before it.
    assert_eq!(span("login", "login").fields["outcome"], "logged_in");
    // The downstream message: its sign checked, answered.
    let downstream = span("downstream", "query_price");
    assert_eq!(downstream.fields["direction"], "down");
    assert_eq!(downstream.fields["sign"], "ok");
    assert_eq!(downstream.fields["order_id"], "o-trace-1");
    assert_eq!(downstream.fields["outcome"], "answered");
    assert_eq!(downstream.fields["delivered"], "true");
    // The events of an exchange happen in its span.
    assert!(
        events.iter().any(|e| e.level == Level::INFO
            && e.scope.contains(&"upload")
            && e.fields.get("message").map(String::as_str) == Some("delivered")),
        "{events:#?}"
    );

    // The forged callback: 403, a warn event with the path and service.
    let forged = events
        .iter()
        .find(|e| {
            e.level == Level::WARN
                && e.fields.get("message").map(String::as_str)
                    == Some("callback rejected: bad sign")
                && e.fields.get("status").map(String::as_str) == Some("403")
        })
        .unwrap_or_else(|| panic!("no warn event for the forged sign: {events:#?}"));
    assert_eq!(forged.fields["path"], "/bolink/outpark");
    assert_eq!(forged.fields["service_name"], "outpark");
    assert_eq!(forged.scope, ["callback"]);
    let callback = spans
        .iter()
        .find(|s| {
            s.name == "callback" && s.fields.get("sign").map(String::as_str) == Some("mismatch")
        })
        .unwrap_or_else(|| panic!("no callback span with sign=mismatch: {spans:#?}"));
    assert_eq!(callback.fields["status"], "403");
    assert_eq!(callback.fields["outcome"], "rejected");
    // The unsigned one: 401, warned too.
    assert!(
        events.iter().any(|e| e.level == Level::WARN
            && e.fields.get("status").map(String::as_str) == Some("401")
            && e.fields.get("path").map(String::as_str) == Some("/bolink/outpark")),
        "{events:#?}"
    );

    // No key, token or sign at info level; not even at trace.
    let token = token
        .lock()
        .unwrap()
        .clone()
        .expect("the login gave a token");
    let info = info.text();
    let everything = everything.text();
    assert!(
        info.contains("upload{") && info.contains("outcome=\"delivered\""),
        "{info}"
    );
    assert!(
        info.contains("WARN") && info.contains("callback rejected: bad sign"),
        "{info}"
    );
    for secret in [KEY, VENDOR_KEY, "forged-key", token.as_str()] {
        assert!(!info.contains(secret), "{secret} logged at info:\n{info}");
        assert!(
            !everything.contains(secret),
            "{secret} logged:\n{everything}"
        );
    }
    // Payloads only at trace, and never the envelope (which holds the sign).
    assert!(!info.contains("\"car_type\""), "a payload at info:\n{info}");
    assert!(everything.contains("\"car_type\""), "no payload at trace");
    assert!(
        !everything.contains("\"sign\":"),
        "an envelope was logged:\n{everything}"
    );
}

async fn run(token: Arc<Mutex<Option<String>>>) {
    let sim = Simulator::new(
        SimulatorConfig::default()
            .poll_hold(Duration::from_millis(300))
            .answer_timeout(Duration::from_secs(5)),
    )
    .park(UNION, PARK, Key::new(KEY))
    .start("127.0.0.1:0".parse().unwrap())
    .await
    .expect("the simulator starts");
    // The token, as the login answer carried it (to look for in the logs).
    let transport = SdkHttpTransport::new(ClientConfig::with_base_url(sim.base_url())).observe(
        move |exchange| {
            let answer: serde_json::Value =
                serde_json::from_slice(exchange.response).unwrap_or_default();
            if let Some(value) = answer.get("token").and_then(|t| t.as_str()) {
                *token.lock().unwrap() = Some(value.to_string());
            }
        },
    );
    let credentials = Credentials::new(UNION, PARK, "lane-1", Key::new(KEY));
    let client = Engine::builder(transport, Dialect::sdk(credentials)).build();
    let running = tokio::spawn({
        let client = client.clone();
        async move { client.run(Arc::new(Lot), std::future::pending()).await }
    });

    // One upload.
    let entry = in_park::Request::new(
        "京A12345",
        UnixSeconds::now(),
        CarType::Small,
        EntryExitType::LanePlateScan,
        "gate-1",
        "o-trace-1",
        100,
        "A1",
    );
    let ticket = client.upload(&entry).await.expect("stored");
    assert!(matches!(ticket.outcome().await, Outcome::Delivered { .. }));

    // One downstream exchange.
    let mut query = query_price::Request::new(PARK, PayScene::InLotPrepay);
    query.car_number = Some("京A12345".into());
    query.order_id = Some("o-trace-1".into());
    match sim.call(PARK, &query.into()).await {
        Ok(LotAnswer::Answered(_)) => {}
        other => panic!("the price query was not answered: {other:?}"),
    }

    // The vendor's callback server, sent a forged and an unsigned callback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bolink/outpark", listener.local_addr().unwrap());
    let router = callback_router(Vendor, CallbackConfig::new(Key::new(VENDOR_KEY)));
    tokio::spawn(serve(listener, router, ServeConfig::new()));
    let data = r#"{"service_name":"outpark","state":1,"park_id":"21835","order_id":"o-trace-1","trade_no":"t-1","pay_type":"wallet","errmsg":""}"#;
    let forged =
        bolink_sign::newapi::build(data, &Key::new("forged-key"), None, BodyEncoding::Json)
            .unwrap();
    let answer = sim.call_vendor_raw(&url, forged).await.expect("an answer");
    assert_eq!(answer.status, 403);
    let unsigned = format!(r#"{{"data":{data}}}"#).into_bytes();
    let answer = sim
        .call_vendor_raw(&url, unsigned)
        .await
        .expect("an answer");
    assert_eq!(answer.status, 401);

    client.shutdown();
    let _ = running.await;
    sim.shutdown().await;
}

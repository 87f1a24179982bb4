//! The new API over real loopback HTTP: the platform's side calls a
//! vendor's callback server; a vendor's client calls the platform's side.

use std::time::Duration;

use axum::Router;
use bolink_http::newapi::{
    callback_router, CallbackConfig, NewApiClient, NewApiConfig, NewApiError,
};
use bolink_http::simulator::newapi::{call_callback, CallError, Platform};
use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sdk::backoff::BackoffPolicy;
use bolink_sdk::engine::{EngineConfig, EngineError, Outcome, TransportError};
use bolink_sdk::newapi::{ReplyError, ReplyForm};
use bolink_sdk::outbox::RetryPolicy;
use bolink_sdk::{Answer, CallbackHandler, Refusal};
use bolink_sign::newapi::{build, BodyEncoding};
use bolink_sign::Key;
use bolink_types::enums::{PayScene, PayType, State};
use bolink_types::newapi::{
    self, addorder, bolinkparkpay, check_vip, nolicence_in_park, notice_car_owner, notify_url,
    outpark, park_check, paymonthcard_notify_url, query_price,
};
use bolink_types::{Decimal, Money, UnixMillis, UnixSeconds};

const UNION_ID: i64 = 200208;
const KEY: &str = "8403A41ED5EF20BC";
const TIMEOUT: Duration = Duration::from_secs(5);

/// A vendor that books payment results, lets unplated cars in, notes
/// plate-status changes, and is slow to answer monthly-pass queries.
struct Vendor;

impl CallbackHandler for Vendor {
    async fn outpark(&self, request: outpark::Request) -> Answer<()> {
        match request.state {
            State::Success => Ok(()),
            _ => Err(Refusal::new("payment not settled")),
        }
    }

    async fn nolicence_in_park(
        &self,
        entry: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::Response> {
        Ok(nolicence_in_park::Response::new(
            State::Success,
            entry.car_number,
            entry.timetemp,
        ))
    }

    async fn notice_car_owner(
        &self,
        request: notice_car_owner::Request,
    ) -> Answer<notice_car_owner::Response> {
        let mut answer = notice_car_owner::Response::new(State::Success);
        answer.errmsg = Some(format!("{} noted", request.car_number));
        Ok(answer)
    }

    async fn notify_url(&self, notice: notify_url::Request) -> Answer<()> {
        match notice.status.as_str() {
            "1" => Ok(()),
            _ => Err(Refusal::new("invoice not issued")),
        }
    }

    async fn check_vip(&self, _request: check_vip::Request) -> Answer<check_vip::Response> {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        Err(Refusal::new("too late anyway"))
    }

    async fn query_price(&self, query: query_price::Request) -> Answer<query_price::Response> {
        let mut answer = query_price::Response::new(
            State::Success,
            135,
            query.park_id,
            query.order_id.unwrap_or_default(),
            Money::from_cents(500),
        );
        answer.query_order_no = Some(query.query_order_no);
        answer.car_number = query.car_number;
        answer.in_time = Some(UnixSeconds(1_610_280_900));
        Ok(answer)
    }

    async fn paymonthcard_notify_url(
        &self,
        renewal: paymonthcard_notify_url::Request,
    ) -> Answer<paymonthcard_notify_url::Response> {
        match renewal.state {
            Some(State::Success) => {
                let mut answer = paymonthcard_notify_url::Response::new();
                answer.state = Some(State::Success);
                answer.trade_no = renewal.trade_no;
                Ok(answer)
            }
            _ => Err(Refusal::new("renewal not paid")),
        }
    }
}

fn key() -> Key {
    Key::new(KEY)
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn vendor_server(config: CallbackConfig) -> String {
    serve(callback_router(Vendor, config)).await
}

fn payment(state: State) -> newapi::Request {
    let mut request =
        outpark::Request::new(state, "21835", "o-1", "t-1", PayType::Wallet, String::new());
    request.total = Some(Money::from_cents(650));
    request.into()
}

fn unplated_entry() -> newapi::Request {
    nolicence_in_park::Request::new(
        "EA47829",
        "21798",
        UNION_ID,
        UnixSeconds(1_523_215_123),
        "A1",
    )
    .into()
}

#[tokio::test]
async fn a_callback_round_trip_is_signed_both_ways_in_json_and_base64() {
    let base = vendor_server(CallbackConfig::new(key()).reply_form(ReplyForm::Signed)).await;
    let http = reqwest::Client::new();
    for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
        // 5.7: answered with its response table, signed, in the request's encoding.
        let url = format!("{base}/bolink/nolicence_in_park");
        let answer = call_callback(&http, &url, &key(), &unplated_entry(), encoding, TIMEOUT)
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        assert!(
            answer.reply.signed && answer.reply.is_success(),
            "{answer:?}"
        );
        match &answer.reply.response {
            Some(newapi::Response::NolicenceInPark(response)) => {
                assert_eq!(response.car_number, "EA47829")
            }
            other => panic!("expected 5.7's response, got {other:?}"),
        }
        // 5.5: acknowledged, or refused by the handler.
        let url = format!("{base}/bolink/outpark");
        let paid = call_callback(
            &http,
            &url,
            &key(),
            &payment(State::Success),
            encoding,
            TIMEOUT,
        )
        .await
        .unwrap();
        assert_eq!((paid.status, paid.reply.state), (200, Some(1)));
        assert!(paid.reply.signed);
        let failed = call_callback(
            &http,
            &url,
            &key(),
            &payment(State::Failure),
            encoding,
            TIMEOUT,
        )
        .await
        .unwrap();
        assert_eq!((failed.status, failed.reply.state), (200, Some(0)));
        assert_eq!(failed.reply.errmsg.as_deref(), Some("payment not settled"));
    }
    // The platform checks the answer's sign: read with another key, it fails.
    let wrong = call_callback(
        &http,
        &format!("{base}/bolink/outpark"),
        &Key::new("another vendor"),
        &payment(State::Success),
        BodyEncoding::Json,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    // The vendor refused the request's sign first (403), signing its answer
    // with its own key, which the caller's key does not verify.
    assert!(
        matches!(
            wrong,
            CallError::Reply {
                status: 403,
                error: ReplyError::WrongSign(_)
            }
        ),
        "{wrong:?}"
    );
}

#[tokio::test]
async fn plain_answers_by_default_and_typed_responses() {
    let base = vendor_server(CallbackConfig::new(key())).await;
    let http = reqwest::Client::new();
    let notice = notice_car_owner::Request::new(UNION_ID, "o-1", "苏K55098", 1, "21835", "0.99");
    // A unified callback address: the data's service_name picks the callback.
    let answer = call_callback(
        &http,
        &format!("{base}/bolink/callback"),
        &key(),
        &notice.into(),
        BodyEncoding::Base64,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert!(!answer.reply.signed);
    match &answer.reply.response {
        Some(newapi::Response::NoticeCarOwner(response)) => {
            assert_eq!(response.errmsg.as_deref(), Some("苏K55098 noted"))
        }
        other => panic!("expected the notice's response, got {other:?}"),
    }
    let plain: serde_json::Value = serde_json::from_slice(&answer.reply.json).unwrap();
    assert_eq!(plain["state"], 1);
}

#[tokio::test]
async fn a_callback_without_service_name_is_found_by_its_configured_path() {
    let config = CallbackConfig::new(key())
        .route("/invoice/notify", "{notify_url}")
        .unwrap();
    let base = vendor_server(config).await;
    let http = reqwest::Client::new();
    let notice = |status: &str| -> newapi::Request {
        notify_url::Request::new("2022-07-28 10:00:00", "inv-1", "ok", "2022-07-28", status).into()
    };
    let url = format!("{base}/invoice/notify");
    let issued = call_callback(
        &http,
        &url,
        &key(),
        &notice("1"),
        BodyEncoding::Json,
        TIMEOUT,
    )
    .await
    .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&issued.reply.json).unwrap();
    assert_eq!(answer, serde_json::json!({"state": 1}));
    let failed = call_callback(
        &http,
        &url,
        &key(),
        &notice("2"),
        BodyEncoding::Json,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(failed.reply.errmsg.as_deref(), Some("invoice not issued"));
    // Elsewhere, nothing names it.
    let elsewhere = format!("{base}/invoice/other");
    let lost = call_callback(
        &http,
        &elsewhere,
        &key(),
        &notice("1"),
        BodyEncoding::Json,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!((lost.status, lost.reply.state), (404, Some(0)));
}

#[tokio::test]
async fn the_simulator_calls_the_callback_server_too() {
    let sim = Simulator::new(SimulatorConfig::default())
        .vendor(UNION_ID, key())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let url = format!(
        "{}/cb/outpark",
        vendor_server(CallbackConfig::new(key())).await
    );
    for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
        let answer = sim
            .call_vendor(&url, UNION_ID, &payment(State::Success), encoding)
            .await
            .unwrap();
        assert_eq!((answer.status, answer.state), (200, Some(1)), "{answer:?}");
    }
    let refused = sim
        .call_vendor(&url, UNION_ID, &unplated_entry(), BodyEncoding::Json)
        .await
        .unwrap();
    // Sent to the outpark address, but the data names 5.7: answered by 5.7.
    assert_eq!(refused.state, Some(1), "{refused:?}");
}

#[tokio::test]
async fn bad_input_gets_the_protocols_error_answer_and_a_fitting_status() {
    let base = vendor_server(
        CallbackConfig::new(key())
            .body_limit(2048)
            .timeout(Duration::from_millis(600)),
    )
    .await;
    let http = reqwest::Client::new();
    let data = r#"{"service_name":"outpark","state":1,"park_id":"21835","order_id":"o-1","trade_no":"t-1","pay_type":"wallet","errmsg":""}"#;
    let good = build(data, &key(), None, BodyEncoding::Json).unwrap();
    let wrong_sign = build(data, &Key::new("other"), None, BodyEncoding::Base64).unwrap();
    let unsigned = format!(r#"{{"data":{data}}}"#).into_bytes();
    let invalid = build(
        r#"{"service_name":"outpark","state":"x","park_id":"21835"}"#,
        &key(),
        None,
        BodyEncoding::Json,
    )
    .unwrap();
    let anonymous = build(r#"{"park_id":"21835"}"#, &key(), None, BodyEncoding::Json).unwrap();
    let slow = build(
        r#"{"service_name":"check_vip","union_id":200208,"park_id":"21835","car_number":"京A12345","amount":0.01}"#,
        &key(),
        None,
        BodyEncoding::Json,
    )
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("/cb/outpark", wrong_sign, 403, "bad sign"),
        ("/cb/outpark", unsigned, 401, "missing sign"),
        (
            "/cb/outpark",
            b"@@ not base64 @@".to_vec(),
            400,
            "malformed body: neither JSON nor base64",
        ),
        (
            "/cb/outpark",
            b"{\"data\":{".to_vec(),
            400,
            "malformed body: invalid JSON",
        ),
        (
            "/cb/outpark",
            b"bm90IGpzb24=".to_vec(),
            400,
            "malformed body: invalid JSON",
        ),
        ("/cb/no_such_callback", anonymous, 404, "unknown interface"),
        ("/cb/outpark", invalid, 200, "invalid message (outpark): "),
        ("/cb/outpark", vec![b' '; 4096], 413, "body over 2048 bytes"),
        ("/cb/check_vip", slow, 408, "no answer within 600 ms"),
    ];
    for (path, body, status, errmsg) in cases {
        let response = http
            .post(format!("{base}{path}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path} {errmsg}");
        if status == 401 {
            assert!(response.headers().contains_key("www-authenticate"));
        }
        let reply: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(reply["state"], 0, "{reply}");
        let text = reply["errmsg"].as_str().unwrap();
        assert!(text.starts_with(errmsg), "{reply}");
        if status == 200 {
            // Every violation is named.
            assert!(
                text.contains("order_id: required") && text.contains("state:"),
                "{text}"
            );
        }
    }
    // The slow handler finishes its call (one call at a time) before the next.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let get = http.get(format!("{base}/cb/outpark")).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    // Still serving, and a replayed message is answered the same way.
    for _ in 0..2 {
        let response = http
            .post(format!("{base}/cb/outpark"))
            .body(good.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let reply: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(reply["state"], 1);
    }
}

#[tokio::test]
async fn the_platform_accepts_checks_and_records_upstream_requests() {
    let platform = Platform::new().vendor(UNION_ID, key()).body_limit(4096);
    let store = platform.store();
    let base = serve(platform.router()).await;
    let check = park_check::Request::new(UNION_ID, "21835", "京A12345");
    for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
        let client = NewApiClient::new(key(), NewApiConfig::new(&base).encoding(encoding));
        let reply = client.send(check.clone()).await.unwrap();
        assert!(reply.is_success(), "{reply:?}");
        assert!(
            matches!(reply.response, Some(newapi::Response::ParkCheck(ref r)) if r.data.is_some())
        );
    }
    let accepted = store.accepted();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0].path, "/unionapi/neworder/uploadData");
    assert_eq!(accepted[0].union_id, UNION_ID);
    assert_eq!(accepted[1].encoding, BodyEncoding::Base64);
    assert_eq!(accepted[0].request, newapi::Request::from(check.clone()));

    // Refusals, in the protocol's JSON.
    let client = NewApiClient::new(key(), NewApiConfig::new(&base));
    let forged = NewApiClient::new(Key::new("wrong"), NewApiConfig::new(&base));
    let reply = forged.send(check.clone()).await.unwrap();
    assert_eq!(reply.state, Some(0));
    assert!(reply.errmsg.unwrap().starts_with("签名错误"));
    let stranger = park_check::Request::new(1, "21835", "京A12345");
    let reply = client.send(stranger).await.unwrap();
    assert!(reply.errmsg.unwrap().starts_with("厂商不存在"));
    let invalid = build(
        r#"{"service_name":"park_check","union_id":200208}"#,
        &key(),
        None,
        BodyEncoding::Json,
    )
    .unwrap();
    let body = client
        .post("/unionapi/neworder/uploadData", invalid)
        .await
        .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["state"], 0);
    let errmsg = reply["errmsg"].as_str().unwrap();
    assert!(
        errmsg.contains("park_id: required") && errmsg.contains("car_number: required"),
        "{errmsg}"
    );
    let good = build(
        r#"{"service_name":"park_check","union_id":200208,"park_id":"1","car_number":"A"}"#,
        &key(),
        None,
        BodyEncoding::Json,
    )
    .unwrap();
    assert!(matches!(
        client.post("/unionapi/nothing_here", good).await,
        Err(NewApiError::Transport(TransportError::Status {
            status: 404,
            ..
        }))
    ));
    assert!(matches!(
        client
            .post("/unionapi/neworder/uploadData", b"%%".to_vec())
            .await,
        Err(NewApiError::Transport(TransportError::Status {
            status: 400,
            ..
        }))
    ));
    assert!(matches!(
        client
            .post("/unionapi/neworder/uploadData", vec![b'{'; 5000])
            .await,
        Err(NewApiError::Transport(TransportError::Status {
            status: 413,
            ..
        }))
    ));
    assert_eq!(store.accepted().len(), 2);
    let refused: Vec<u16> = store.refused().iter().map(|r| r.status).collect();
    assert_eq!(refused, [200, 200, 200, 404, 400, 413]);
    // An interface without a known path is refused before anything is sent.
    let vip = check_vip::Request::new("21835", UNION_ID, "京A12345", Decimal::new(1, 2));
    assert!(matches!(
        client.send(vip).await,
        Err(NewApiError::NoPath(_))
    ));
}

#[tokio::test]
async fn the_simulator_checks_and_records_upstream_requests() {
    let sim = Simulator::new(SimulatorConfig::default())
        .vendor(UNION_ID, key())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let request = park_check::Request::new(UNION_ID, "21835", "京A12345");
    let client = NewApiClient::new(key(), NewApiConfig::new(sim.base_url()));
    assert!(client.send(request.clone()).await.unwrap().is_success());
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.received()[0].service_name, "park_check");
    let forged = NewApiClient::new(Key::new("wrong"), NewApiConfig::new(sim.base_url()));
    let reply = forged.send(request).await.unwrap();
    assert!(reply.errmsg.unwrap().contains("签名错误"));
    assert_eq!((sim.received().len(), sim.rejected().len()), (1, 1));
}

#[tokio::test]
async fn uploads_go_through_the_outbox_and_survive_an_absent_platform() {
    let addr = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let quick = BackoffPolicy::new(Duration::from_millis(50), Duration::from_millis(200));
    let client = NewApiClient::builder(key(), NewApiConfig::new(format!("http://{addr}")))
        .engine_config(
            EngineConfig::default().link_backoff(quick).retry(
                RetryPolicy::default()
                    .backoff_between(Duration::from_millis(50), Duration::from_millis(200)),
            ),
        )
        .build();
    let engine = client.engine().clone();
    let running = tokio::spawn(async move { engine.run_uploads(std::future::pending()).await });
    let request = park_check::Request::new(UNION_ID, "21835", "京A12345");
    let ticket = client.upload(request.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.engine().pending().await.unwrap(), 1);
    let sim = Simulator::new(SimulatorConfig::default())
        .vendor(UNION_ID, key())
        .start(addr)
        .await
        .unwrap();
    assert!(matches!(ticket.outcome().await, Outcome::Delivered { .. }));
    assert_eq!(sim.received().len(), 1);
    assert_eq!(client.engine().pending().await.unwrap(), 0);
    // An interface without a URL path is refused before anything is stored.
    let vip = check_vip::Request::new("21835", UNION_ID, "京A12345", Decimal::new(1, 2));
    assert!(
        matches!(
            client.upload(vip).await,
            Err(NewApiError::Engine(EngineError::NoPath(_)))
        ),
        "an interface without a path is refused"
    );
    assert_eq!(client.engine().pending().await.unwrap(), 0);
    client.engine().shutdown();
    running.await.unwrap().unwrap();
}

/// A vendor whose payment-result handler waits until `n` calls are inside
/// it at once: with callbacks answered one at a time it never gets there,
/// and every call runs into the server's timeout instead.
struct Gathering {
    barrier: tokio::sync::Barrier,
}

impl CallbackHandler for Gathering {
    async fn outpark(&self, _request: outpark::Request) -> Answer<()> {
        self.barrier.wait().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_callbacks_are_answered_concurrently() {
    const CALLS: usize = 8;
    let mut config = CallbackConfig::new(key());
    config.timeout = Duration::from_secs(5);
    let base = serve(callback_router(
        Gathering {
            barrier: tokio::sync::Barrier::new(CALLS),
        },
        config,
    ))
    .await;
    let http = reqwest::Client::new();
    let url = format!("{base}/bolink/outpark");
    let calls = (0..CALLS).map(|_| {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            call_callback(
                &http,
                &url,
                &key(),
                &payment(State::Success),
                BodyEncoding::Json,
                TIMEOUT,
            )
            .await
            .unwrap()
        })
    });
    for call in calls.collect::<Vec<_>>() {
        let answer = call.await.unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.reply.is_success(), "{answer:?}");
    }
}

/// Counts the calls that reach it.
#[derive(Default)]
struct Counting {
    payments: std::sync::atomic::AtomicUsize,
    notices: std::sync::atomic::AtomicUsize,
}

impl CallbackHandler for Counting {
    async fn outpark(&self, _request: outpark::Request) -> Answer<()> {
        self.payments
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    async fn notice_car_owner(
        &self,
        _request: notice_car_owner::Request,
    ) -> Answer<notice_car_owner::Response> {
        self.notices
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(notice_car_owner::Response::new(State::Success))
    }
}

async fn post_signed(http: &reqwest::Client, url: &str, data: &str) -> (u16, serde_json::Value) {
    let body = build(data, &key(), None, BodyEncoding::Json).unwrap();
    let response = http.post(url).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let answer = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, answer)
}

#[tokio::test]
async fn a_repeated_rand_is_an_illegal_request_and_a_retry_is_answered_once() {
    let counting = std::sync::Arc::new(Counting::default());
    struct Shared(std::sync::Arc<Counting>);
    impl CallbackHandler for Shared {
        async fn outpark(&self, request: outpark::Request) -> Answer<()> {
            self.0.outpark(request).await
        }
        async fn notice_car_owner(
            &self,
            request: notice_car_owner::Request,
        ) -> Answer<notice_car_owner::Response> {
            self.0.notice_car_owner(request).await
        }
    }
    let base = serve(callback_router(
        Shared(counting.clone()),
        CallbackConfig::new(key()),
    ))
    .await;
    let http = reqwest::Client::new();
    // 5.2, as its page's example has it (keys without the stray spaces).
    let notice = |rand: &str| {
        format!(
            r#"{{"union_id":109010,"park_id":"1001","order_id":"1089922","car_number":"苏K55098","is_union_user":1,"rand":"{rand}"}}"#
        )
    };
    let url = format!("{base}/bolink/notice_car_owner");
    let (status, answer) = post_signed(&http, &url, &notice("0.99993232345436")).await;
    assert_eq!(
        (status, answer["state"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    let (status, answer) = post_signed(&http, &url, &notice("0.99993232345436")).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["state"], 0);
    assert!(
        answer["errmsg"]
            .as_str()
            .unwrap()
            .contains("illegal request"),
        "{answer}"
    );
    let (status, _) = post_signed(&http, &url, &notice("0.12")).await;
    assert_eq!(status, 200, "a new rand is a new request");
    assert_eq!(
        counting.notices.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the replay never reached the handler"
    );

    // The platform calls again with the same payment result (it did not
    // read the answer): answered the same, the handler called once.
    let payment = r#"{"service_name":"outpark","state":1,"park_id":"21835","order_id":"o-1","trade_no":"t-77","pay_type":"wallet","errmsg":""}"#;
    let url = format!("{base}/bolink/outpark");
    let first = post_signed(&http, &url, payment).await;
    let again = post_signed(&http, &url, payment).await;
    assert_eq!(first, again);
    assert_eq!(first.1["state"], 1);
    assert_eq!(
        counting.payments.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// The interfaces specified from public code: a typed upstream call gets the
/// platform's answer read as its table (3.4's payurl), or read without one
/// where no program showed the answer (3.1); union_id goes beside data.
#[tokio::test]
async fn typed_calls_reach_interfaces_learnt_from_code() {
    let payurl = "https://s.bolink.club/unionapi/pay?trade_no=38204715930264817502";
    let platform = Platform::new().vendor(UNION_ID, key()).answer(
        "/unionapi/bolinkparkpay",
        serde_json::json!({"state": 1, "payurl": payurl}),
    );
    let store = platform.store();
    let base = serve(platform.router()).await;
    let client = NewApiClient::new(key(), NewApiConfig::new(&base).union_id(UNION_ID));

    let mut pay = bolinkparkpay::Request::new();
    pay.title = Some("支付停车费".into());
    pay.park_id = Some("00001".into());
    pay.amount = Some(Money::from_cents(1));
    pay.trade_no = Some("38204715930264817502".into());
    pay.car_number = Some("津MYL400".into());
    pay.in_time = Some(UnixSeconds(1_610_280_900));
    pay.pay_type = Some(0);
    pay.time_temp = Some(UnixMillis(1_610_289_005_123));
    pay.channel = Some("weixin".into());
    let reply = client.send(pay.clone()).await.unwrap();
    assert!(reply.is_success(), "{reply:?}");
    match &reply.response {
        Some(newapi::Response::Bolinkparkpay(answer)) => {
            assert_eq!(answer.payurl.as_deref(), Some(payurl))
        }
        other => panic!("expected 3.4's response, got {other:?}"),
    }

    let mut entry = addorder::Request::new();
    entry.car_number = Some("津MYL400".into());
    entry.in_time = Some(UnixSeconds(1_610_280_900));
    entry.order_id = Some("000003".into());
    entry.empty_plot = Some(100);
    entry.park_id = Some("00001".into());
    entry.union_id = Some(UNION_ID);
    let reply = client.send(entry.clone()).await.unwrap();
    assert!(reply.is_success() && reply.response.is_none(), "{reply:?}");

    let accepted = store.accepted();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0].path, "/unionapi/bolinkparkpay");
    assert_eq!(accepted[0].union_id, UNION_ID);
    assert_eq!(accepted[0].request, newapi::Request::from(pay));
    assert_eq!(accepted[1].path, "/unionapi/neworder/addorder");
    assert_eq!(accepted[1].request, newapi::Request::from(entry));
}

/// The callbacks specified from public code reach their handler methods: 5.8
/// at the address the vendor configured (its answer is the JSON object of
/// its table), 5.1 by the data's service_name at a unified address.
#[tokio::test]
async fn callbacks_learnt_from_code_reach_their_handler_methods() {
    let config = CallbackConfig::new(key())
        .route(
            "/payTest/payMemberOrderCallBack",
            "{paymonthcard_notify_url}",
        )
        .unwrap();
    let base = vendor_server(config).await;
    let http = reqwest::Client::new();

    let mut renewal = paymonthcard_notify_url::Request::new();
    renewal.state = Some(State::Success);
    renewal.trade_no = Some("2019111913561448213MYL400".into());
    renewal.attach = Some(serde_json::json!({"car_number": "津MYL400", "type": "1"}));
    let url = format!("{base}/payTest/payMemberOrderCallBack");
    let answer = call_callback(
        &http,
        &url,
        &key(),
        &renewal.clone().into(),
        BodyEncoding::Json,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200);
    match &answer.reply.response {
        Some(newapi::Response::PaymonthcardNotifyUrl(reply)) => {
            assert_eq!(reply.state, Some(State::Success));
            assert_eq!(reply.trade_no.as_deref(), Some("2019111913561448213MYL400"));
        }
        other => panic!("expected 5.8's response, got {other:?}"),
    }
    let plain: serde_json::Value = serde_json::from_slice(&answer.reply.json).unwrap();
    assert_eq!(
        plain,
        serde_json::json!({"state": 1, "trade_no": "2019111913561448213MYL400"})
    );
    renewal.state = Some(State::Failure);
    let refused = call_callback(
        &http,
        &url,
        &key(),
        &renewal.into(),
        BodyEncoding::Base64,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(
        (refused.reply.state, refused.reply.errmsg.as_deref()),
        (Some(0), Some("renewal not paid"))
    );

    let mut query =
        query_price::Request::new("00001", PayScene::InLotPrepay, "0000120210110223000ep-101");
    query.car_number = Some("津MYL400".into());
    query.order_id = Some("2021011020150048213MYL400".into());
    let answer = call_callback(
        &http,
        &format!("{base}/bolink/callback"),
        &key(),
        &query.into(),
        BodyEncoding::Json,
        TIMEOUT,
    )
    .await
    .unwrap();
    match &answer.reply.response {
        Some(newapi::Response::QueryPrice(price)) => {
            assert_eq!(price.price, Money::from_cents(500));
            assert_eq!(
                price.query_order_no.as_deref(),
                Some("0000120210110223000ep-101")
            );
            assert_eq!(price.order_id, "2021011020150048213MYL400");
        }
        other => panic!("expected 5.1's response, got {other:?}"),
    }
}

//! Exact out: every refusal the library writes satisfies the table it
//! answers in, whatever the request carried, on both wires; answers that
//! break their table are never sent; a signed request that breaks its
//! table still reaches the application.

use std::sync::Mutex;
use std::time::Instant;

use bolink_sdk::newapi::{request_body, BodyEncoding, CallbackEndpoint};
use bolink_sdk::{
    Answer, CallbackHandler, Credentials, Handler, InvalidMessage, LinkMode, Refusal, Session,
};
use bolink_sign::{sdk_http, Key};
use bolink_types::catalog::Document;
use bolink_types::enums::State;
use bolink_types::sdk::{outpark, query_price};
use bolink_types::strategy::valid_json_for;
use bolink_types::{answer_rules, newapi, sdk, Role, INTERFACES};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

const KEY: &str = "8403A41ED5EF20BC";

fn session() -> Session {
    let mut session = Session::new(Credentials::new("200208", "21835", "lane", Key::new(KEY)));
    session
        .accept_login_reply(br#"{"state":1,"token":"t0"}"#, Instant::now())
        .unwrap();
    session
}

/// Refuses everything (the generated defaults).
struct Closed;
impl Handler for Closed {}
impl CallbackHandler for Closed {}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn every_sdk_refusal_is_valid_in_its_table_on_both_wires() {
    let mut runner = TestRunner::deterministic();
    let session = session();
    let mut checked = 0;
    for info in INTERFACES
        .iter()
        .filter(|i| matches!(i.document, Document::Sdk | Document::SdkHttp))
        .filter(|i| i.direction == bolink_types::catalog::Direction::Downstream)
    {
        let Some(service) = info.service_name else {
            continue;
        };
        let Some(request) = info.roles.iter().find(|r| r.role == Role::Request) else {
            continue;
        };
        if !bolink_sdk::DOWNSTREAM_SERVICES.contains(&service) {
            continue;
        }
        for mode in [LinkMode::Http, LinkMode::Sdk] {
            // A few requests each: optional fields come and go.
            for _ in 0..4 {
                let value = valid_json_for((request.schema)())
                    .new_tree(&mut runner)
                    .unwrap()
                    .current();
                let data = serde_json::to_string(&value).unwrap();
                let body = sdk_http::build(service, None, &data, &Key::new(KEY)).unwrap();
                let done = block_on(session.answer_in(&Closed, &body, Instant::now(), mode))
                    .unwrap_or_else(|e| panic!("{service}: {e}"));
                assert!(done.refusal.is_some(), "{service}: refused");
                let order = match mode {
                    LinkMode::Http => [Role::HttpReturn, Role::SdkReturn],
                    _ => [Role::SdkReturn, Role::HttpReturn],
                };
                let role = order
                    .into_iter()
                    .find(|r| info.roles.iter().any(|x| x.role == *r));
                let answer: serde_json::Value = serde_json::from_slice(&done.answer).unwrap();
                if mode == LinkMode::Http {
                    assert!(
                        answer.get("data_target").is_none(),
                        "{service}: HTTP mode does not send data_target: {answer}"
                    );
                }
                if let Some(role) = role {
                    // Validated as the SDK-mode table has it: with its
                    // data_target in HTTP mode too.
                    let mut full = answer.clone();
                    if let Some(schema) = info.roles.iter().find(|r| r.role == role) {
                        let schema = (schema.schema)();
                        for constant in schema.constants {
                            full[constant.name] = constant.value.into();
                        }
                        // A data_target field (not fixed by the table): the
                        // SDK form carries one, HTTP mode leaves it out.
                        if schema.fields.iter().any(|f| f.name == "data_target")
                            && full.get("data_target").is_none()
                        {
                            full["data_target"] = "bolink".into();
                        }
                    }
                    let bytes = serde_json::to_vec(&full).unwrap();
                    match sdk::Message::decode_as(role, service, &bytes) {
                        Err(e) => panic!("{service} {role} ({mode:?}): {e}\n{answer}"),
                        // And the rules that name the request it answers.
                        Ok(message) => {
                            let broken = answer_rules::check(
                                message.schema(),
                                &full,
                                &serde_json::Value::Object(value.clone()),
                            );
                            assert!(broken.is_empty(), "{service} {role}: {broken:?}\n{data}");
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked} refusals checked");
}

#[test]
fn every_callback_refusal_is_valid_in_its_response_table() {
    let mut runner = TestRunner::deterministic();
    let endpoint = CallbackEndpoint::new(Key::new(KEY));
    let mut checked = 0;
    for info in INTERFACES.iter().filter(|i| {
        i.document == Document::Newapi
            && i.direction == bolink_types::catalog::Direction::Downstream
    }) {
        let (Some(request), Some(response)) = (
            info.roles.iter().find(|r| r.role == Role::Request),
            info.roles.iter().find(|r| r.role == Role::Response),
        ) else {
            continue;
        };
        let key = info.service_name.or(info.url_path).unwrap();
        if key.starts_with('{') {
            continue; // served at a configured path
        }
        for _ in 0..4 {
            let value = valid_json_for((request.schema)())
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let message = newapi::Request::decode_as(key, &serde_json::to_vec(&value).unwrap())
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            let body = request_body(&message, &Key::new(KEY), None, BodyEncoding::Json).unwrap();
            let reply = block_on(endpoint.answer(&Closed, &format!("/cb/{key}"), &body));
            if let Err(e) = newapi::Response::decode_as(key, &reply.body) {
                panic!("{key}: {e}\n{}", String::from_utf8_lossy(&reply.body));
            }
            let _ = response;
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked} refusals checked");
}

/// Refuses price queries with a long reason, and answers them invalidly
/// when asked for car 京INVALID.
struct Talkative;

impl Handler for Talkative {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        if request.car_number.as_deref() == Some("京INVALID") {
            // state 0 without the errmsg its table requires.
            return Ok(query_price::HttpReturn::new(
                State::Failure,
                0,
                request.park_id,
                String::new(),
                bolink_types::Money::from_cents(0),
            ));
        }
        Err(Refusal::new("这辆车不在本停车场的在场车辆记录里".repeat(4)))
    }
}

/// Answers every price query with a price, and nothing the request asks
/// to be echoed.
struct Forgetful;

impl Handler for Forgetful {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        Ok(query_price::HttpReturn::new(
            State::Success,
            30,
            request.park_id,
            request.order_id.unwrap_or_default(),
            bolink_types::Money::from_cents(500),
        ))
    }
}

#[test]
fn an_answer_that_breaks_a_rule_naming_its_request_is_not_sent() {
    // At the exit (pay_scene 1), 3.1 wants the query's query_order_no back.
    let data = r#"{"service_name":"query_price","park_id":"21835","pay_scene":1,"out_channel_id":"A1","query_order_no":"q-77","order_id":"o-1"}"#;
    let body = sdk_http::build("query_price", None, data, &Key::new(KEY)).unwrap();
    let done = block_on(session().answer(&Forgetful, &body, Instant::now())).unwrap();
    let report = done
        .invalid_answer
        .expect("the answer lacked query_order_no");
    assert_eq!(
        report.to_string(),
        "query_order_no: required when the request's pay_scene was 1 or 2"
    );
    // The refusal sent instead carries it, from the request.
    let answer: serde_json::Value = serde_json::from_slice(&done.answer).unwrap();
    assert_eq!(answer["state"], 0);
    assert_eq!(answer["query_order_no"], "q-77", "{answer}");
    // The same answer to an in-lot query (pay_scene 0) needs in_time and
    // car_number instead; with them it goes out.
    let data = r#"{"service_name":"query_price","park_id":"21835","pay_scene":0,"car_number":"京A12345","order_id":"o-1"}"#;
    let body = sdk_http::build("query_price", None, data, &Key::new(KEY)).unwrap();
    let done = block_on(session().answer(&Forgetful, &body, Instant::now())).unwrap();
    assert_eq!(
        done.invalid_answer.map(|r| r.to_string()).as_deref(),
        Some(
            "in_time: required when the request's pay_scene was 0 or 2\n\
             car_number: required when the request's pay_scene was 0 or 2"
        )
    );
    let answer: serde_json::Value = serde_json::from_slice(&done.answer).unwrap();
    assert_eq!(answer["car_number"], "京A12345", "{answer}");
    assert!(answer["in_time"].is_number(), "{answer}");
}

fn price_query(car: &str) -> Vec<u8> {
    let data = format!(
        r#"{{"service_name":"query_price","park_id":"21835","pay_scene":0,"car_number":"{car}","order_id":"o-1"}}"#
    );
    sdk_http::build("query_price", None, &data, &Key::new(KEY)).unwrap()
}

#[test]
fn a_refusal_is_cut_to_its_errmsg_length_and_carries_what_the_table_requires() {
    let done =
        block_on(session().answer(&Talkative, &price_query("京A12345"), Instant::now())).unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&done.answer).unwrap();
    // query_price's http_return: errmsg at most 48 characters; duration,
    // park_id, order_id and price always required.
    assert_eq!(answer["state"], 0);
    assert_eq!(answer["errmsg"].as_str().unwrap().chars().count(), 48);
    for field in ["duration", "park_id", "order_id", "price"] {
        assert!(answer.get(field).is_some(), "{field}: {answer}");
    }
    assert_eq!(answer["order_id"], "o-1", "copied from the request");
    assert!(answer.get("data_target").is_none(), "HTTP mode");
    assert!(
        sdk::HttpReturn::decode_as("query_price", &done.answer).is_ok(),
        "{answer}"
    );
}

#[test]
fn an_answer_that_breaks_its_table_is_not_sent() {
    let done =
        block_on(session().answer(&Talkative, &price_query("京INVALID"), Instant::now())).unwrap();
    let report = done
        .invalid_answer
        .expect("the handler's answer was invalid");
    assert!(report.to_string().contains("errmsg"), "{report}");
    // What went out instead is a valid refusal naming the problem.
    let answer: serde_json::Value = serde_json::from_slice(&done.answer).unwrap();
    assert_eq!(answer["state"], 0);
    assert!(
        answer["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("invalid answer: errmsg"),
        "{answer}"
    );
    assert!(sdk::HttpReturn::decode_as("query_price", &done.answer).is_ok());
}

/// Keeps every invalid message it is shown.
#[derive(Default)]
struct Keeper {
    kept: Mutex<Vec<InvalidMessage>>,
}

impl Handler for Keeper {
    async fn outpark(&self, _result: outpark::Request) -> Answer<outpark::HttpReturn> {
        unreachable!("only invalid payment results are sent here")
    }

    async fn invalid_message(&self, message: InvalidMessage) {
        self.kept.lock().unwrap().push(message);
    }
}

impl CallbackHandler for Keeper {
    async fn invalid_message(&self, message: InvalidMessage) {
        self.kept.lock().unwrap().push(message);
    }
}

#[test]
fn a_signed_payment_result_that_breaks_its_table_still_reaches_the_application() {
    // A payment result whose remark is over its 128 characters.
    let remark = "x".repeat(129);
    let data = format!(
        r#"{{"service_name":"outpark","state":1,"order_id":"o-1","trade_no":"t-1","pay_type":"wallet","errmsg":"","pay_time":1490875218,"total":"5.00","car_number":"京A12345","arrive_money":"5.00","fee":"0.00","account_type":0,"remark":"{remark}"}}"#
    );
    let body = sdk_http::build("outpark", None, &data, &Key::new(KEY)).unwrap();
    let keeper = Keeper::default();
    let done = block_on(session().answer(&keeper, &body, Instant::now())).unwrap();
    let kept = keeper.kept.lock().unwrap();
    assert_eq!(kept.len(), 1, "the application saw it");
    assert_eq!(kept[0].service_name, "outpark");
    assert_eq!(kept[0].data, data.as_bytes(), "the data as received");
    assert_eq!(kept[0].fields["trade_no"], "t-1", "what could be read");
    assert!(
        kept[0].report.to_string().contains("remark"),
        "{}",
        kept[0].report
    );
    assert!(done.invalid_request.is_some());
    // The platform is told what was wrong.
    let answer: serde_json::Value = serde_json::from_slice(&done.answer).unwrap();
    assert_eq!(answer["state"], 0);
    assert!(
        answer["errmsg"].as_str().unwrap().contains("remark"),
        "{answer}"
    );
}

#[test]
fn a_signed_callback_that_breaks_its_table_still_reaches_the_application() {
    // Paid at the exit by scanning, without the exit lane 5.5 then requires.
    let data = r#"{"service_name":"outpark","state":1,"park_id":"21835","order_id":"o-1","trade_no":"t-1","pay_type":"scancode","errmsg":""}"#;
    let body = bolink_sign::newapi::build(data, &Key::new(KEY), None, BodyEncoding::Json).unwrap();
    let keeper = Keeper::default();
    let reply =
        block_on(CallbackEndpoint::new(Key::new(KEY)).answer(&keeper, "/cb/outpark", &body));
    let kept = keeper.kept.lock().unwrap();
    assert_eq!(kept.len(), 1, "{:?}", reply.outcome);
    assert_eq!(kept[0].data, data.as_bytes());
    assert!(
        kept[0].report.to_string().contains("out_channel_id"),
        "{}",
        kept[0].report
    );
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(answer["state"], 0);
    assert!(
        answer["errmsg"]
            .as_str()
            .unwrap()
            .contains("out_channel_id"),
        "{answer}"
    );
}

#[test]
fn what_a_request_carried_leniently_is_reported_with_its_answer() {
    // pay_scene as a string, a relay key in data: answered, with both noted.
    let data = r#"{"service_name":"query_price","park_id":"21835","pay_scene":"1","out_channel_id":"A1","query_order_no":"q-1","msg_id":"m-3"}"#;
    let body = sdk_http::build("query_price", None, data, &Key::new(KEY)).unwrap();
    let done = block_on(session().answer(&Closed, &body, Instant::now())).unwrap();
    let slips: Vec<String> = done.slips.iter().map(ToString::to_string).collect();
    assert_eq!(
        slips,
        [
            r#"pay_scene: string "1" read as a numeric code"#,
            r#"msg_id: not in the table, ignored (value "m-3")"#
        ]
    );
}

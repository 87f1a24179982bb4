//! The bad-input corpus (`tests/bad-input/cases.json`): every case names a
//! target and the exact outcome it must produce, a typed error's text or
//! `ok`. Nothing may panic.
//!
//! After a deliberate change of error texts, `BAD_INPUT_BLESS=1 cargo test
//! -p bolink-conformance bad_input` rewrites the expectations; review the diff.

use base64::Engine;
use bolink_sign::{parse_any, sign, Key};
use bolink_types::{sdk, Role};
use serde::{Deserialize, Serialize};

/// The key the corpus's envelopes are checked with.
pub const CORPUS_KEY: &str = "corpus-key";

#[derive(Debug, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    /// `<role>:<service>` (decode and validate as that table) or `verify`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_base64: Option<String>,
    pub expect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

const CORPUS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bad-input/cases.json");

pub fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(CORPUS_PATH).expect("the corpus is readable");
    serde_json::from_str(&text).expect("the corpus is valid JSON")
}

impl Case {
    /// The input bytes; `SIGNLOWER` in a text input becomes the lower-case
    /// sign of the envelope's data with the corpus key.
    pub fn bytes(&self) -> Vec<u8> {
        match (&self.input, &self.input_base64) {
            (Some(text), _) if text.contains("SIGNLOWER") => {
                let data_start = text.find("\"data\":").map(|i| i + 7).unwrap_or(0);
                let data = &text[data_start..text.len() - 1];
                let lower = sign(data.as_bytes(), &Key::new(CORPUS_KEY))
                    .to_string()
                    .to_lowercase();
                text.replace("SIGNLOWER", &lower).into_bytes()
            }
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("input_base64 is base64"),
            (None, None) => panic!("case {:?} has no input", self.name),
        }
    }

    /// What the target makes of the input.
    pub fn outcome(&self) -> String {
        let bytes = self.bytes();
        match self.target.split_once(':') {
            Some((role, service)) => {
                let role: Role = role.parse().expect("a role name");
                match sdk::Message::decode_as(role, service, &bytes) {
                    Ok(_) => "ok".into(),
                    Err(e) => format!("{e:?}"),
                }
            }
            _ if self.target == "verify" => match parse_any(&bytes) {
                Err(e) => format!("envelope: {e}"),
                Ok(body) => match body.verify(&Key::new(CORPUS_KEY)) {
                    Ok(()) => "ok".into(),
                    Err(e) => format!("verify: {e}"),
                },
            },
            _ => panic!("case {:?}: unknown target {:?}", self.name, self.target),
        }
    }
}

#[test]
fn every_case_gives_its_exact_typed_error() {
    let mut cases = corpus();
    let bless = std::env::var_os("BAD_INPUT_BLESS").is_some();
    let mut mismatches = Vec::new();
    for case in &mut cases {
        let outcome = case.outcome();
        if outcome != case.expect {
            mismatches.push(format!(
                "{}:\n  expected {}\n  got      {outcome}",
                case.name, case.expect
            ));
            if bless {
                case.expect = outcome;
            }
        }
    }
    if bless {
        let text = serde_json::to_string_pretty(&cases).expect("the corpus serialises");
        std::fs::write(CORPUS_PATH, text + "\n").expect("the corpus is writable");
        return;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Every corpus input, sent raw to the simulator's upload address, gets the
/// protocol's error answer, and the simulator keeps serving: a correct
/// login succeeds after each.
#[tokio::test]
async fn the_simulator_answers_every_case_and_keeps_serving() {
    use bolink_http::simulator::{Simulator, SimulatorConfig};
    let key = Key::new(CORPUS_KEY);
    let sim = Simulator::new(SimulatorConfig::default())
        .park("200208", "21835", key.clone())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the simulator starts");
    let url = format!("{}/bpd/upload.do", sim.base_url());
    let http = reqwest::Client::new();
    let login = bolink_sign::sdk_http::build(
        "login",
        None,
        r#"{"union_id":"200208","park_id":"21835"}"#,
        &key,
    )
    .expect("a login envelope");
    for case in corpus() {
        let response = http
            .post(&url)
            .body(case.bytes())
            .send()
            .await
            .expect("the simulator answers");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("a body");
        let reply: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{}: the answer is not JSON ({e}): {body:?}", case.name));
        assert_eq!(reply["state"], 0, "{}: {reply}", case.name);
        assert!(
            matches!(status, 200 | 400 | 401 | 413),
            "{}: status {status}",
            case.name
        );
        let after = http
            .post(&url)
            .body(login.clone())
            .send()
            .await
            .expect("still serving");
        let after: serde_json::Value =
            serde_json::from_slice(&after.bytes().await.expect("a body")).expect("JSON");
        assert_eq!(after["state"], 1, "after {}: {after}", case.name);
    }
}

/// The same for a vendor's callback server: every corpus input gets the
/// protocol's error answer (state 0) and a valid callback still works after.
#[tokio::test]
async fn the_callback_server_answers_every_case_and_keeps_serving() {
    use bolink_http::newapi::{callback_router, CallbackConfig};

    struct Vendor;
    impl bolink_sdk::CallbackHandler for Vendor {
        async fn outpark(
            &self,
            _result: bolink_types::newapi::outpark::Request,
        ) -> bolink_sdk::Answer<()> {
            Ok(())
        }
    }

    let key = Key::new(CORPUS_KEY);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let url = format!(
        "http://{}/bolink/outpark",
        listener.local_addr().expect("an address")
    );
    let router = callback_router(Vendor, CallbackConfig::new(key.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let data = r#"{"service_name":"outpark","state":1,"park_id":"1","order_id":"o","trade_no":"t","pay_type":"wallet","errmsg":""}"#;
    let valid =
        bolink_sign::newapi::build(data, &key, None, bolink_sign::newapi::BodyEncoding::Json)
            .expect("a body");
    for case in corpus() {
        let response = http
            .post(&url)
            .body(case.bytes())
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("a body");
        let reply: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{}: the answer is not JSON ({e}): {body:?}", case.name));
        assert_eq!(reply["state"], 0, "{}: {reply}", case.name);
        assert!(
            matches!(status, 200 | 400 | 401 | 403 | 404 | 413),
            "{}: status {status}",
            case.name
        );
        let after = http
            .post(&url)
            .body(valid.clone())
            .send()
            .await
            .expect("still serving");
        let after: serde_json::Value =
            serde_json::from_slice(&after.bytes().await.expect("a body")).expect("JSON");
        assert_eq!(after["state"], 1, "after {}: {after}", case.name);
    }
}

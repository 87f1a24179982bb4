//! What a valid sign does not prove: whose data it is (the new API), and
//! which service it is for (the unsigned envelope's `service_name`).

use bolink_http::newapi::{NewApiClient, NewApiConfig};
use bolink_http::simulator::newapi::Platform;
use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sign::newapi::{build, BodyEncoding};
use bolink_sign::{sdk_http, Key};
use bolink_types::newapi::park_check;
use serde_json::Value;

use super::*;

const VENDOR_A: i64 = 100001;
const VENDOR_B: i64 = 100002;
const PARK_B: &str = "30001";

fn key_a() -> Key {
    Key::new("vendor-a-key")
}

#[tokio::test]
async fn a_vendors_key_files_nothing_under_another_vendor_or_its_park() {
    let sim = Simulator::new(SimulatorConfig::default())
        .vendor(VENDOR_A, key_a())
        .vendor(VENDOR_B, Key::new("vendor-b-key"))
        .park(&VENDOR_B.to_string(), PARK_B, Key::new("park-b-key"))
        .start(loopback())
        .await
        .unwrap();
    let a = NewApiClient::new(key_a(), NewApiConfig::new(sim.base_url()));
    let path = "/unionapi/neworder/uploadData";
    let post = |data: String, beside: Option<i64>| {
        let a = &a;
        async move {
            let body = build(&data, &key_a(), beside, BodyEncoding::Json).unwrap();
            let answer = a.post(path, body).await.unwrap();
            serde_json::from_slice::<Value>(&answer).unwrap()
        }
    };
    // Vendor A's key, vendor A named beside the data (that picks the key),
    // vendor B named inside it.
    let as_b = format!(
        r#"{{"service_name":"park_check","union_id":{VENDOR_B},"park_id":"21835","car_number":"京A12345"}}"#
    );
    let refused = post(as_b, Some(VENDOR_A)).await;
    assert_eq!(refused["state"], 0, "{refused}");
    assert!(
        refused["errmsg"]
            .as_str()
            .unwrap()
            .contains("数据不属于签名的厂商"),
        "{refused}"
    );
    // Vendor A naming itself, but vendor B's park.
    let bs_park = park_check::Request::new(VENDOR_A, PARK_B, "京A12345");
    let reply = a.send(bs_park).await.unwrap();
    assert_eq!(reply.state, Some(0), "{reply:?}");
    assert!(
        reply
            .errmsg
            .as_deref()
            .unwrap()
            .contains("车场不属于签名的厂商"),
        "{reply:?}"
    );
    assert!(sim.received().is_empty(), "{:?}", sim.received());
    // Its own data, on a park nobody registered: filed.
    let own = park_check::Request::new(VENDOR_A, "21835", "京A12345");
    assert!(a.send(own).await.unwrap().is_success());
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.rejected().len(), 2);
}

#[tokio::test]
async fn the_standalone_platform_checks_the_datas_vendor_too() {
    let platform = Platform::new().vendor(VENDOR_A, key_a());
    let store = platform.store();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bolink_http::serve::serve(
        listener,
        platform.router(),
        bolink_http::serve::ServeConfig::new(),
    ));
    let a = NewApiClient::new(key_a(), NewApiConfig::new(format!("http://{addr}")));
    let data = format!(
        r#"{{"service_name":"park_check","union_id":{VENDOR_B},"park_id":"1","car_number":"A"}}"#
    );
    let body = build(&data, &key_a(), Some(VENDOR_A), BodyEncoding::Base64).unwrap();
    let answer: Value =
        serde_json::from_slice(&a.post("/unionapi/neworder/uploadData", body).await.unwrap())
            .unwrap();
    assert_eq!(answer["state"], 0, "{answer}");
    assert!(store.accepted().is_empty());
}

#[tokio::test]
async fn an_envelope_naming_another_service_than_its_data_is_refused_over_http() {
    let sim = start(fast()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/bpd/upload.do", sim.base_url());
    let data = format!(r#"{{"union_id":"{UNION}","park_id":"{PARK}","local_id":"desk"}}"#);
    let login = sdk_http::build("login", None, &data, &key()).unwrap();
    let reply: Value = http
        .post(&url)
        .body(login)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    let token = reply["token"].as_str().unwrap().to_string();
    // A signed entry, sent as an exit.
    let body = sdk_http::build("out_park", Some(&token), &named_entry("o-1"), &key()).unwrap();
    let reply: Value = http
        .post(&url)
        .body(body)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(reply["state"], 0, "{reply}");
    assert!(
        reply["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("error:service_name不一致"),
        "{reply}"
    );
    assert!(sim.received().is_empty());
    // The same data under its own name is taken.
    let body = sdk_http::build("in_park", Some(&token), &named_entry("o-1"), &key()).unwrap();
    let reply: Value = http
        .post(&url)
        .body(body)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(reply["state"], 1, "{reply}");
}

//! Lane routing: a message naming a lane goes to the instance whose
//! `local_id` binds it, whatever its link.

use std::sync::Mutex;

use bolink_http::simulator::PUSH_PATH;
use bolink_sdk::{Answer, Handler};
use bolink_sign::sdk_http;
use bolink_types::enums::State;
use bolink_types::sdk::nolicence_in_park;
use serde_json::{json, Value};

use super::*;

/// Records which instance answered which lane.
struct Counting {
    name: &'static str,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Handler for Counting {
    async fn nolicence_in_park(
        &self,
        request: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::HttpReturn> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{}:{}", self.name, request.channel_id));
        Ok(nolicence_in_park::HttpReturn::new(
            State::Success,
            request.car_number,
            request.timetemp,
        ))
    }
}

fn unplated_at(lane: &str) -> Value {
    json!({"service_name": "nolicence_in_park", "park_id": PARK, "car_number": "7FEDR54",
           "channel_id": lane, "timetemp": 1_503_296_359})
}

async fn push(sim: &SimulatorHandle, message: Value, timeout_ms: u64) -> Value {
    let (status, report) = control(
        sim,
        PUSH_PATH,
        &json!({"park_id": PARK, "message": message, "timeout_ms": timeout_ms}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_reaches_only_the_instance_managing_it() {
    let sim = start(fast()).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let counting = |name| Counting {
        name,
        seen: seen.clone(),
    };
    let _a = http_lot(&sim, "lotA_channels_A1", counting("lotA"));
    let _b = http_lot(&sim, "lotB_channels_B1", counting("lotB"));
    eventually("both instances logged in", || {
        sim.live_sessions().len() == 2
    })
    .await;
    let to_b = push(&sim, unplated_at("B1"), 5000).await;
    assert_eq!(to_b["verdict"], "answered", "{to_b}");
    assert_eq!(to_b["local_id"], "lotB_channels_B1");
    assert_eq!(*seen.lock().unwrap(), ["lotB:B1"]);
    let to_a = push(&sim, unplated_at("A1"), 5000).await;
    assert_eq!(to_a["local_id"], "lotA_channels_A1");
    assert_eq!(*seen.lock().unwrap(), ["lotB:B1", "lotA:A1"]);
    // A lane nobody manages, and no instance without lane binding: nowhere.
    let nowhere = push(&sim, unplated_at("D9"), 300).await;
    assert_eq!(
        (nowhere["delivered"].clone(), nowhere["verdict"].clone()),
        (json!(false), json!("no_answer"))
    );
    let reason = nowhere["reason"].as_str().unwrap();
    assert!(reason.contains("manages lane D9"), "{reason}");
    assert_eq!(seen.lock().unwrap().len(), 2, "neither instance got it");

    // A raw instance on the TCP link binding C1 gets C1's messages.
    let mut lot_c = RawTcp::connect(&sim).await;
    let token = lot_c.login("lotC_channels_C1").await;
    let pushed = tokio::spawn({
        let base = sim.base_url();
        async move {
            reqwest::Client::new()
                .post(format!("{base}{PUSH_PATH}"))
                .body(json!({"park_id": PARK, "message": unplated_at("C1")}).to_string())
                .send()
                .await
                .unwrap()
                .json_value()
                .await
        }
    });
    let message = lot_c.frame().await;
    let envelope = sdk_http::Envelope::parse(message.as_bytes()).unwrap();
    assert_eq!(envelope.service_name, "nolicence_in_park");
    let answer = r#"{"service_name":"nolicence_in_park","data_target":"bolink","state":1,"car_number":"7FEDR54","timetemp":1503296359}"#;
    let body = sdk_http::build("nolicence_in_park", Some(&token), answer, &key()).unwrap();
    lot_c.send(std::str::from_utf8(&body).unwrap()).await;
    let report = pushed.await.unwrap();
    assert_eq!(report["verdict"], "answered", "{report}");
    assert_eq!(
        (report["link"].clone(), report["local_id"].clone()),
        (json!("tcp"), json!("lotC_channels_C1"))
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the HTTP instances got nothing"
    );

    // An instance without lane binding takes the lanes nobody manages, and,
    // as the newest login, the messages naming no lane.
    let _desk = http_lot(&sim, "desk", counting("desk"));
    eventually("the desk logged in", || sim.live_sessions().len() == 4).await;
    let to_desk = push(&sim, unplated_at("D9"), 5000).await;
    assert_eq!(to_desk["local_id"], "desk", "{to_desk}");
    let price = json!({"service_name": "query_price", "park_id": PARK, "pay_scene": 0,
                       "car_number": "京A12345", "order_id": "o-1"});
    let newest = push(&sim, price, 5000).await;
    assert_eq!(newest["local_id"], "desk", "{newest}");
    // The desk offers no price: refused as not supported, by the desk.
    assert_eq!(newest["verdict"], "refused", "{newest}");
}

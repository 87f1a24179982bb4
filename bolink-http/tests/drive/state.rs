//! `GET /_simulator/state`: what the simulator holds, as JSON.

use bolink_http::simulator::STATE_PATH;
use serde_json::{json, Value};

use super::*;

async fn state(sim: &SimulatorHandle) -> Value {
    let response = reqwest::get(format!("{}{STATE_PATH}", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json_value().await
}

#[tokio::test]
async fn the_state_shows_orders_deliveries_rejections_and_sessions() {
    let sim = start(fast()).await;
    let empty = state(&sim).await;
    assert_eq!(empty["sessions"], json!([]));
    assert_eq!(empty["in_park"], json!([]));
    let mut tcp = RawTcp::connect(&sim).await;
    let token = tcp.login("lotA_channels_A1_A2").await;
    let _http = http_lot(&sim, "desk", super::push_lot());
    eventually("both instances logged in", || {
        sim.live_sessions().len() == 2
    })
    .await;
    assert_eq!(
        tcp.upload(&token, "in_park", &entry("o-1", 20)).await["state"],
        1
    );
    assert_eq!(
        tcp.upload(&token, "in_park", &entry("o-1", 20)).await["state"],
        0
    );
    assert_eq!(
        tcp.upload("0123456789abcdef0123456789abcdef", "upload_gate", "{}")
            .await["errmsg"],
        "error:token无效"
    );
    let state = state(&sim).await;
    assert_eq!(
        state["in_park"],
        json!([{"park_id": PARK, "order_id": "o-1", "car_number": "京A12345"}])
    );
    assert_eq!(state["deliveries"], json!({"21835/in_park:o-1": 2}));
    assert_eq!(
        state["rejected"],
        json!([{"service_name": "upload_gate", "reason": "error:token无效"}])
    );
    let mut sessions = state["sessions"].as_array().unwrap().clone();
    sessions.sort_by_key(|s| s["local_id"].as_str().unwrap().to_string());
    assert_eq!(
        sessions,
        [
            json!({"park_id": PARK, "local_id": "desk", "link": "http", "lanes": []}),
            json!({"park_id": PARK, "local_id": "lotA_channels_A1_A2", "link": "tcp", "lanes": ["A1", "A2"]}),
        ]
    );
    assert_eq!(state["received"].as_array().unwrap().len(), 1);
    assert_eq!(state["received"][0]["data"]["order_id"], "o-1");
    assert_eq!(state["logins"], 2);
}

//! The transport on its own: a session lives on one connection.

use bolink_sdk::engine::{Frame, FrameKind, Transport, TransportError};
use bolink_sdk::Session;
use bolink_tcp::TcpTransport;

use crate::stub::Stub;
use crate::*;

fn login() -> Frame {
    Frame {
        kind: FrameKind::Login,
        service_name: "login".into(),
        path: None,
        body: Session::new(credentials()).login_request(),
    }
}

fn upload(order: &str, token: &str) -> Frame {
    let data = String::from_utf8(entry(order).encode()).unwrap();
    Frame {
        kind: FrameKind::Upload,
        service_name: "in_park".into(),
        path: None,
        body: sdk_http::build("in_park", Some(token), &data, &Key::new(KEY)).unwrap(),
    }
}

fn answer(token: &str) -> Frame {
    let data = r#"{"state":1,"park_id":"21835","order_id":"o-1","duration":60,"price":"5.00"}"#;
    Frame {
        kind: FrameKind::Answer,
        service_name: "query_price".into(),
        path: None,
        body: sdk_http::build("query_price", Some(token), data, &Key::new(KEY)).unwrap(),
    }
}

async fn log_in(transport: &TcpTransport) -> String {
    let reply = transport.send(login()).await.unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["state"], 1, "{reply}");
    assert_eq!(reply["service_name"], "login");
    let token = reply["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lives_on_the_connection_that_logged_in() {
    let stub = Stub::start(KEY).await;
    let transport = TcpTransport::new(tcp_config(stub.addr));
    // Nothing before a login on this connection, and nothing written.
    assert!(matches!(
        transport
            .send(upload("s-0", "0123456789abcdef0123456789abcdef"))
            .await,
        Err(TransportError::SessionLost(_))
    ));
    assert!(stub.books().sends.is_empty());
    let first = log_in(&transport).await;
    let reply = transport.send(upload("s-1", &first)).await.unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(
        (reply["state"].clone(), reply["order_id"].clone()),
        (1.into(), "s-1".into())
    );
    // The answer to an answer is the server's empty frame: no
    // acknowledgement to read.
    assert_eq!(transport.answer(answer(&first)).await, Ok(None));
    assert_eq!(stub.books().answers.len(), 1);

    // What the platform sends on its own goes to receive: a signed
    // envelope, the cloud's unsigned sync, a status naming a service no
    // frame is for.
    let pushed: [&[u8]; 3] = [
        &price_query("o-1"),
        r#"{"service_name":"blackuser_sync","data":{"car_number":"京A1","operate_type":1}}"#
            .as_bytes(),
        br#"{"service_name":"prepay_order","state":1,"order_id":"o-1"}"#,
    ];
    for message in pushed {
        assert!(stub.push(CHANNEL, message));
        let received = transport.receive(&first).await.unwrap();
        assert_eq!(received.as_deref(), Some(message));
    }
    assert_eq!(transport.stats().downstream_received, 3);

    // The platform drops the connection; the link comes back by itself.
    stub.kick();
    let watched = transport.clone();
    eventually("a second connection", || watched.stats().connects == 2).await;
    for attempt in [
        transport.send(upload("s-2", &first)).await,
        transport.answer(answer(&first)).await.map(|_| Vec::new()),
        transport.receive(&first).await.map(|_| Vec::new()),
    ] {
        assert!(
            matches!(attempt, Err(TransportError::SessionLost(_))),
            "{attempt:?}"
        );
    }
    // The stale frames never reached the platform (where a refused in_park
    // would poison its sign cache).
    assert!(!stub.books().sends.contains_key("s-2"));
    assert_eq!(stub.books().answers.len(), 1);

    let second = log_in(&transport).await;
    assert_ne!(first, second);
    let reply = transport.send(upload("s-2", &second)).await.unwrap();
    assert!(String::from_utf8_lossy(&reply).contains(r#""state":1"#));
    assert_eq!(stub.books().foreign_tokens, 0);
    assert_eq!(transport.stats().logins, 2);
    // A token refused by the platform is the engine's to read, not a
    // transport error.
    stub.forget_tokens();
    let reply = transport.send(upload("s-3", &second)).await.unwrap();
    assert!(String::from_utf8_lossy(&reply).contains("error:token无效"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_is_not_there_is_a_connect_error() {
    // A port nobody listens on.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let transport = TcpTransport::new(tcp_config(addr));
    assert!(matches!(
        transport.send(login()).await,
        Err(TransportError::Connect(_))
    ));
    assert!(matches!(
        transport.connect().await,
        Err(TransportError::Connect(_))
    ));
    assert!(transport.stats().connect_failures >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_what_is_sent_and_what_is_held() {
    let stub = Stub::start(KEY).await;
    let transport = TcpTransport::new(
        tcp_config(stub.addr)
            .max_send_bytes(Some(bolink_tcp::SERVER_LINE_LIMIT))
            .downstream_queue(2),
    );
    let token = log_in(&transport).await;
    // A frame the server's 1024-byte line decoder would drop unanswered
    // fails at once, unwritten, and the link stays up.
    // (Built by hand: the engine would refuse a remark this long; only
    // the size matters here.)
    let mut big = entry("l-1");
    big.remark = Some("x".repeat(900));
    let data = String::from_utf8(big.encode()).unwrap();
    let frame = Frame {
        kind: FrameKind::Upload,
        service_name: "in_park".into(),
        path: None,
        body: sdk_http::build("in_park", Some(&token), &data, &Key::new(KEY)).unwrap(),
    };
    assert_eq!(
        transport.send(frame).await,
        Err(TransportError::TooLarge { limit: 1024 })
    );
    assert!(!stub.books().sends.contains_key("l-1"));
    assert!(transport.send(upload("l-2", &token)).await.is_ok());
    assert_eq!(transport.stats().connects, 1);
    // Past the queue, the oldest downstream message gives way.
    for order in ["q-1", "q-2", "q-3"] {
        assert!(stub.push(CHANNEL, &price_query(order)));
    }
    let watched = transport.clone();
    eventually("three messages", || {
        watched.stats().downstream_received == 3
    })
    .await;
    assert_eq!(transport.stats().downstream_dropped, 1);
    for order in ["q-2", "q-3"] {
        let message = transport.receive(&token).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&message).contains(order), "{order}");
    }
}

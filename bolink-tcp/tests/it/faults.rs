//! The link under faults: odd framing, oversized frames, silent
//! heartbeats, a connection cut mid-frame, a platform restart.

use std::time::Duration;

use bolink_sdk::engine::Event;

use crate::stub::{Faults, Stub};
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_written_one_byte_at_a_time_are_reassembled() {
    let stub = Stub::start_on(
        "127.0.0.1:0".parse().unwrap(),
        KEY,
        Faults {
            byte_at_a_time: true,
            ..Faults::default()
        },
    )
    .await;
    let (client, _seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    let duplicates = all_delivered(upload_all(&client, "b", 8).await).await;
    assert!(duplicates.iter().all(|d| !d));
    // A downstream message byte by byte too, between the answers.
    stub.wait_until("a login", |b| !b.logins.is_empty()).await;
    assert!(stub.push(CHANNEL, &price_query("q-1")));
    stub.wait_until("the answer", |b| !b.answers.is_empty())
        .await;
    assert_eq!(price_of(&stub.books().answers[0]), Money::from_cents(500));
    // The login and the heartbeat answers come byte by byte as well.
    let transport = client.transport().clone();
    eventually("heartbeat answers", || {
        transport.stats().heartbeats_answered >= 2
    })
    .await;
    let stats = transport.stats();
    assert_eq!(
        (stats.connects, stats.junk_frames, stats.out_of_step),
        (1, 0, 0)
    );
    assert_eq!((stats.dead_links, stats.skipped_bytes), (0, 0));
    assert_eq!(stub.books().accepted.len(), 8);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_coalesced_with_junk_between_them_are_routed() {
    // Pushed messages are held and written in the same write as the next
    // answer, behind an unasked-for 0x12, with junk before every frame.
    let stub = Stub::start_on(
        "127.0.0.1:0".parse().unwrap(),
        KEY,
        Faults {
            coalesce: true,
            junk: true,
            ..Faults::default()
        },
    )
    .await;
    let (client, seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    client.login().await.unwrap();
    for order in ["q-1", "q-2", "q-3"] {
        assert!(stub.push(CHANNEL, &price_query(order)));
    }
    let duplicates = all_delivered(upload_all(&client, "c", 6).await).await;
    assert!(duplicates.iter().all(|d| !d));
    stub.wait_until("three answers", |b| b.answers.len() == 3)
        .await;
    for answer in &stub.books().answers {
        assert_eq!(answer.service_name, "query_price");
        assert_eq!(price_of(answer), Money::from_cents(500));
    }
    eventually("three answers reported delivered", || {
        seen.count(|e| {
            matches!(
                e,
                Event::Answered {
                    delivered: true,
                    ..
                }
            )
        }) == 3
    })
    .await;
    let stats = client.transport().stats();
    assert_eq!(stats.downstream_received, 3);
    assert!(stats.skipped_bytes > 0, "the junk was skipped: {stats:?}");
    assert_eq!((stats.out_of_step, stats.connects), (0, 1));
    assert_eq!(stub.books().overlaps, 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_re_establishes_the_link() {
    let stub = Stub::start(KEY).await;
    let (client, seen) = client_with(tcp_config(stub.addr).max_frame_bytes(2048), engine_config());
    let running = run(&client, Lot::default());
    all_delivered(upload_all(&client, "o", 2).await).await;
    // The next upload is taken, but its answer is replaced by 4 KiB.
    stub.faults(|f| f.oversize_next = Some(4096));
    let duplicates = all_delivered(upload_all(&client, "o2", 3).await).await;
    // Sent again on the new link, it is one the platform already has.
    assert_eq!(duplicates, vec![true, false, false]);
    let stats = client.transport().stats();
    assert_eq!(stats.oversized_frames, 1);
    assert_eq!(stats.connects, 2, "{stats:?}");
    assert_eq!(stub.logins(), 2, "logged in again on the new link");
    assert_eq!(stub.books().accepted.len(), 5);
    assert!(
        seen.count(|e| matches!(
            e,
            Event::LinkFailed(bolink_sdk::engine::TransportError::TooLarge { limit: 2048 })
        )) == 1
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_heartbeats_declare_the_link_dead() {
    let stub = Stub::start(KEY).await;
    let (client, _seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    all_delivered(upload_all(&client, "h", 3).await).await;
    // Heartbeats every 100 ms once logged in, and none before.
    stub.wait_until("heartbeats answered", |b| b.heartbeats_answered >= 3)
        .await;
    assert_eq!(stub.books().heartbeats_before_login, 0);
    assert_eq!(client.transport().stats().dead_links, 0);
    assert_eq!(client.transport().stats().connects, 1);
    stub.faults(|f| f.answer_heartbeats = false);
    let transport = client.transport().clone();
    eventually("the link declared dead", || {
        transport.stats().dead_links >= 1
    })
    .await;
    stub.faults(|f| f.answer_heartbeats = true);
    // Re-established and logged in again by the engine, with nothing to
    // upload meanwhile.
    stub.wait_until("a second login", |b| b.logins.len() >= 2)
        .await;
    assert!(stub.books().connections >= 2);
    let answered = stub.books().heartbeats_answered;
    stub.wait_until("heartbeats on the new link", |b| {
        b.heartbeats_answered >= answered + 2
    })
    .await;
    let duplicates = all_delivered(upload_all(&client, "h2", 3).await).await;
    assert!(duplicates.iter().all(|d| !d));
    assert_eq!(stub.books().accepted.len(), 6);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_cut_mid_frame_and_a_platform_restart_lose_nothing() {
    let stub = Stub::start(KEY).await;
    let (client, seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    all_delivered(upload_all(&client, "k", 2).await).await;
    // The platform takes the next upload, writes half its answer and
    // closes the connection.
    stub.faults(|f| f.cut_next = true);
    let duplicates = all_delivered(upload_all(&client, "k2", 3).await).await;
    assert_eq!(
        duplicates,
        vec![true, false, false],
        "the cut one was sent again"
    );
    assert!(
        seen.count(|e| matches!(
            e,
            Event::LinkFailed(bolink_sdk::engine::TransportError::Closed(_))
        )) >= 1
    );
    assert!(client.transport().stats().closed >= 1);
    assert_eq!(stub.books().accepted.len(), 5);
    // The platform goes down; uploads wait in the outbox; it comes back
    // on the same port, having forgotten every session.
    let addr = stub.stop();
    let tickets = upload_all(&client, "k3", 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        client.pending().await.unwrap(),
        5,
        "kept while the platform is down"
    );
    let transport = client.transport().clone();
    eventually("connection attempts refused", || {
        transport.stats().connect_failures >= 1
    })
    .await;
    let stub = Stub::start_on(addr, KEY, Faults::default()).await;
    let duplicates = all_delivered(tickets).await;
    assert!(duplicates.iter().all(|d| !d));
    assert_eq!(stub.books().accepted.len(), 5);
    assert!(stub.logins() >= 1);
    assert_eq!(client.pending().await.unwrap(), 0);
    running.stop().await;
}

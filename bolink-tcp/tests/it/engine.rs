//! Uploads through the engine, end to end.

use std::time::Duration;

use bolink_sdk::engine::{Event, Pacing};

use crate::stub::{Faults, Stub};
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_delivered_one_frame_in_flight_at_a_time() {
    let stub = Stub::start(KEY).await;
    // Slow answers: a client that wrote the next frame before the answer
    // to the last would be seen doing it.
    stub.faults(|f| f.answer_delay = Duration::from_millis(5));
    let (client, seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    let duplicates = all_delivered(upload_all(&client, "e", 30).await).await;
    assert!(duplicates.iter().all(|d| !d), "nothing was a re-send");
    {
        let books = stub.books();
        assert_eq!(books.accepted.len(), 30);
        assert!(books.sends.values().all(|&n| n == 1), "{:?}", books.sends);
        assert_eq!(
            books.overlaps, 0,
            "a frame was written before the last was answered"
        );
        assert_eq!(books.foreign_tokens, 0);
        assert_eq!(books.logins.len(), 1);
    }
    let stats = client.transport().stats();
    assert_eq!(stats.connects, 1);
    assert_eq!(stats.logins, 1);
    assert_eq!(
        (stats.out_of_step, stats.orphan_answers, stats.timeouts),
        (0, 0, 0)
    );
    assert_eq!(seen.count(|e| matches!(e, Event::Delivered { .. })), 30);
    assert_eq!(client.pending().await.unwrap(), 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_means_one_relogin_on_the_same_connection() {
    let stub = Stub::start(KEY).await;
    let (client, seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    all_delivered(upload_all(&client, "a", 5).await).await;
    assert_eq!(stub.logins(), 1);
    // The platform forgets the session: the next upload is answered
    // {"state":0,"errmsg":"error:token无效"}.
    stub.forget_tokens();
    let duplicates = all_delivered(upload_all(&client, "b", 5).await).await;
    assert_eq!(stub.logins(), 2, "one re-login");
    assert_eq!(stub.books().token_refusals, 1);
    assert_eq!(seen.count(|e| matches!(e, Event::TokenRefused { .. })), 1);
    assert_eq!(
        client.transport().stats().connects,
        1,
        "no reconnect for a token"
    );
    // The public server caches the sign of an in_park before it checks the
    // token (TempUtil.isReSend, SensorServerHandler.java line 132 before
    // line 278): the upload refused for its token is answered
    // "数据已处理过..." when sent again, although the server never took it.
    // The engine confirms such an answer once under another sign (the same
    // data in another key order), and the server takes it: stored, and not
    // mistaken for a duplicate.
    assert_eq!(
        stub.books().duplicates,
        1,
        "the server's resend cache spoke once"
    );
    assert_eq!(duplicates, vec![false, false, false, false, false]);
    {
        let books = stub.books();
        for order in ["b-0", "b-1", "b-2", "b-3", "b-4"] {
            assert!(books.accepted.contains(&order.to_string()), "{order}");
        }
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_keeps_the_session_below_the_platform_rate() {
    // The server's isHit, scaled from 100 requests per 11 s to 10 per
    // second; the engine's window just under it, as its defaults (90 of
    // 100 per 10 s) are.
    let stub = Stub::start(KEY).await;
    stub.faults(|f| {
        f.rate_limit = 10;
        f.rate_window = Duration::from_secs(1);
    });
    let engine = engine_config().pacing(Pacing::unlimited().window(8, Duration::from_secs(1)));
    let (client, _seen) = client_with(tcp_config(stub.addr), engine);
    let running = run(&client, Lot::default());
    let duplicates = all_delivered(upload_all(&client, "p", 20).await).await;
    assert!(duplicates.iter().all(|d| !d));
    {
        let books = stub.books();
        assert_eq!(
            books.over_times, 0,
            "the platform never had to refuse the rate"
        );
        assert_eq!(books.accepted.len(), 20);
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_rate_are_retried_and_come_back_as_already_processed() {
    // Without pacing the same stub refuses with request_over_times; the
    // engine pauses and retries, and every ticket settles. But isHit comes
    // after the sign cache too: each upload refused for the rate is
    // answered "数据已处理过..." when sent again, although the server never
    // took it. Pinned here so that a change in either is noticed.
    let stub = Stub::start_on(
        "127.0.0.1:0".parse().unwrap(),
        KEY,
        Faults {
            rate_limit: 10,
            rate_window: Duration::from_secs(1),
            ..Faults::default()
        },
    )
    .await;
    let (client, seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    let duplicates = all_delivered(upload_all(&client, "r", 20).await).await;
    {
        let books = stub.books();
        assert!(books.over_times >= 1, "the rate was exceeded");
        // Each upload refused for the rate was called a duplicate when
        // sent again (the resend cache); the engine confirmed it under
        // another sign and the server took it: all 20 stored, none
        // mistaken for a duplicate.
        assert!(duplicates.iter().all(|d| !d), "{duplicates:?}");
        assert_eq!(books.accepted.len(), 20);
        assert!(seen.count(|e| matches!(e, Event::Retrying { .. })) >= 1);
    }
    running.stop().await;
}

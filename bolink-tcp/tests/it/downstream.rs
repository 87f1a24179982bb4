//! Messages the platform pushes on the link, answered through a Handler.

use std::time::Duration;

use bolink_sdk::engine::Event;

use crate::stub::Stub;
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_price_query_is_answered_through_the_handler() {
    let stub = Stub::start(KEY).await;
    let (client, seen) = client(stub.addr);
    let running = run(&client, Lot::default());
    client.login().await.unwrap();
    stub.wait_until("a login", |b| !b.logins.is_empty()).await;
    // Uploads and the query share the link; the answer's own (empty)
    // acknowledgement must not be taken for an upload's.
    let tickets = upload_all(&client, "d", 10).await;
    assert!(stub.push(CHANNEL, &price_query("o-7")));
    let duplicates = all_delivered(tickets).await;
    assert!(duplicates.iter().all(|d| !d));
    stub.wait_until("the answer", |b| !b.answers.is_empty())
        .await;
    {
        let books = stub.books();
        let answer = &books.answers[0];
        assert_eq!(answer.service_name, "query_price");
        assert_eq!(price_of(answer), Money::from_cents(500));
        let data: serde_json::Value = serde_json::from_slice(&answer.data).unwrap();
        assert_eq!(data["order_id"], "o-7");
        assert_eq!(data["car_number"], "京A12345");
        // Signed with the session's token.
        assert_eq!(answer.token, books.logins[0].1);
        assert_eq!(books.accepted.len(), 10);
        assert_eq!(books.overlaps, 0);
    }
    eventually("the answer reported delivered", || {
        seen.count(|e| {
            matches!(
                e,
                Event::Answered {
                    delivered: true,
                    ..
                }
            )
        }) == 1
    })
    .await;
    assert_eq!(client.stats().answered, 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_whose_link_was_lost_goes_out_on_the_new_login() {
    let stub = Stub::start(KEY).await;
    let (client, seen) = client(stub.addr);
    // The lot takes 400 ms to price a car; meanwhile the link is lost.
    let running = run(
        &client,
        Lot {
            delay: Duration::from_millis(400),
        },
    );
    client.login().await.unwrap();
    stub.wait_until("a login", |b| !b.logins.is_empty()).await;
    assert!(stub.push(CHANNEL, &price_query("o-8")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stub.kick();
    stub.wait_until("the answer", |b| !b.answers.is_empty())
        .await;
    {
        let books = stub.books();
        assert_eq!(books.logins.len(), 2);
        let answer = &books.answers[0];
        // Not written on the lost session: re-signed with the new login's
        // token and sent on the new connection.
        assert_eq!(answer.token, books.logins[1].1);
        assert_eq!(answer.conn, books.logins[1].0);
        assert_eq!(books.foreign_tokens, 0);
        assert_eq!(price_of(answer), Money::from_cents(500));
    }
    eventually("the answer reported delivered", || {
        seen.count(|e| {
            matches!(
                e,
                Event::Answered {
                    delivered: true,
                    ..
                }
            )
        }) == 1
    })
    .await;
    running.stop().await;
}

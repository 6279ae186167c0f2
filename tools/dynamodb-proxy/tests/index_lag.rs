//! Index propagation lag through the proxy, seen by the real SDK: a read of
//! a global secondary index sees each committed write exactly one lag after
//! it, base-table reads see it at once, and with lag off the index is
//! read-your-writes (DynamoDB Local's own behaviour).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{Put, PutRequest, TransactWriteItem, Update, WriteRequest};
use aws_sdk_dynamodb::Client;
use common::{client, proxy, put, s, table, upstream};
use dynamodb_proxy::index_view::VIEW_SUFFIX;

/// The lag of these tests: long enough to look before it ends.
const LAG: Duration = Duration::from_millis(1000);
/// How late after the lag a write may show on a busy machine.
const SLACK: Duration = Duration::from_millis(700);

/// The `(pk, sk)` of every item the index `byG` holds for `g`, sorted.
async fn index(client: &Client, table: &str, g: &str) -> Vec<(String, String)> {
    let output = client
        .query()
        .table_name(table)
        .index_name("byG")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s(g))
        .send()
        .await
        .expect("query the index");
    let mut keys: Vec<(String, String)> = output
        .items()
        .iter()
        .map(|item| {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            (text("pk"), text("sk"))
        })
        .collect();
    keys.sort();
    keys
}

/// Keys as the index answers them.
fn keys(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(pk, sk)| (pk.to_string(), sk.to_string()))
        .collect()
}

/// Polls the index for `g` until it holds exactly `expected`; the time
/// that took since `since` (panics after five seconds).
async fn shows(
    client: &Client,
    table: &str,
    g: &str,
    expected: &[(&str, &str)],
    since: Instant,
) -> Duration {
    let expected = keys(expected);
    loop {
        if index(client, table, g).await == expected {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "the index for {g} never became {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts the write sent at `sent` and answered at `answered` showed
/// after `took` (since `sent`): not before the lag, and not much after.
fn lagged_exactly(took: Duration, sent: Instant, answered: Instant) {
    assert!(took >= LAG, "visible {took:?} after the write was sent");
    let after_answer = took.saturating_sub(answered - sent);
    assert!(
        after_answer <= LAG + SLACK,
        "visible {after_answer:?} after the write's answer"
    );
}

/// A proxy with [`LAG`] and a client through it.
async fn lagging() -> (dynamodb_proxy::Proxy, Client) {
    let proxy = proxy(|c| c.index_lag = Some(LAG)).await;
    let client = client(&proxy.endpoint()).await;
    (proxy, client)
}

#[tokio::test]
async fn a_put_shows_in_the_index_one_lag_after_it_and_in_the_table_at_once() {
    let (proxy, client) = lagging().await;
    let table = table(&client).await;
    assert!(index(&client, &table, "x").await.is_empty());

    let sent = Instant::now();
    put(&client, &table, "a", "1", Some("x")).await.unwrap();
    let answered = Instant::now();

    assert!(
        index(&client, &table, "x").await.is_empty(),
        "not in the index right after the write"
    );
    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s("a"))
        .key("sk", s("1"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(got.item.is_some(), "a consistent read of the table sees it");
    let queried = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", s("a"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(queried.count, 1, "a consistent query of the table sees it");
    let took = shows(&client, &table, "x", &[("a", "1")], sent).await;
    lagged_exactly(took, sent, answered);
    // The count follows the view's write by a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let summary = proxy.summary();
    assert!(summary.index_view_reads >= 3, "{summary:?}");
    assert_eq!(summary.index_view_writes, 1);
}

#[tokio::test]
async fn an_update_and_a_delete_reach_the_index_one_lag_after_each() {
    let (_proxy, client) = lagging().await;
    let table = table(&client).await;
    let started = Instant::now();
    put(&client, &table, "a", "1", Some("x")).await.unwrap();
    shows(&client, &table, "x", &[("a", "1")], started).await;

    let sent = Instant::now();
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("a"))
        .key("sk", s("1"))
        .update_expression("SET g = :g")
        .expression_attribute_values(":g", s("y"))
        .send()
        .await
        .unwrap();
    let answered = Instant::now();
    assert_eq!(index(&client, &table, "x").await, keys(&[("a", "1")]));
    assert!(index(&client, &table, "y").await.is_empty());
    let took = shows(&client, &table, "y", &[("a", "1")], sent).await;
    lagged_exactly(took, sent, answered);
    assert!(
        index(&client, &table, "x").await.is_empty(),
        "moved in one step"
    );

    let sent = Instant::now();
    client
        .delete_item()
        .table_name(&table)
        .key("pk", s("a"))
        .key("sk", s("1"))
        .send()
        .await
        .unwrap();
    let answered = Instant::now();
    assert_eq!(
        index(&client, &table, "y").await,
        keys(&[("a", "1")]),
        "a deleted item stays in the index until the lag ends"
    );
    let took = shows(&client, &table, "y", &[], sent).await;
    lagged_exactly(took, sent, answered);
}

#[tokio::test]
async fn transactions_and_batches_reach_the_index_one_lag_after_them() {
    let (_proxy, client) = lagging().await;
    let table = table(&client).await;
    put(&client, &table, "b", "1", None).await.unwrap();

    let sent = Instant::now();
    let put_a = Put::builder()
        .table_name(&table)
        .item("pk", s("a"))
        .item("sk", s("1"))
        .item("g", s("x"))
        .build()
        .unwrap();
    let update_b = Update::builder()
        .table_name(&table)
        .key("pk", s("b"))
        .key("sk", s("1"))
        .update_expression("SET g = :g")
        .expression_attribute_values(":g", s("x"))
        .build()
        .unwrap();
    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put_a).build())
        .transact_items(TransactWriteItem::builder().update(update_b).build())
        .send()
        .await
        .unwrap();
    let put_c = PutRequest::builder()
        .item("pk", s("c"))
        .item("sk", s("1"))
        .item("g", s("x"))
        .build()
        .unwrap();
    client
        .batch_write_item()
        .request_items(
            &table,
            vec![WriteRequest::builder().put_request(put_c).build()],
        )
        .send()
        .await
        .unwrap();
    let answered = Instant::now();

    assert!(index(&client, &table, "x").await.is_empty());
    let took = shows(
        &client,
        &table,
        "x",
        &[("a", "1"), ("b", "1"), ("c", "1")],
        sent,
    )
    .await;
    lagged_exactly(took, sent, answered);
}

#[tokio::test]
async fn settling_waits_for_every_write_answered_before_it_and_no_longer() {
    let (proxy, client) = lagging().await;
    let table = table(&client).await;
    put(&client, &table, "a", "1", Some("x")).await.unwrap();
    let sent = Instant::now();
    put(&client, &table, "b", "1", Some("x")).await.unwrap();
    let answered = Instant::now();

    proxy.index_settled().await;
    let took = sent.elapsed();

    assert_eq!(
        index(&client, &table, "x").await,
        keys(&[("a", "1"), ("b", "1")])
    );
    lagged_exactly(took, sent, answered);
    let again = Instant::now();
    proxy.index_settled().await;
    assert!(
        again.elapsed() < Duration::from_millis(100),
        "nothing left to wait for"
    );
}

#[tokio::test]
async fn a_write_that_failed_never_reaches_the_index() {
    let (_proxy, client) = lagging().await;
    let table = table(&client).await;

    let refused = client
        .put_item()
        .table_name(&table)
        .item("pk", s("a"))
        .item("sk", s("1"))
        .item("g", s("x"))
        .condition_expression("attribute_exists(pk)")
        .send()
        .await;
    let cancelled = client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&table)
                        .item("pk", s("b"))
                        .item("sk", s("1"))
                        .item("g", s("x"))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await;
    let sent = Instant::now();
    put(&client, &table, "c", "1", Some("x")).await.unwrap();

    assert!(refused.is_err() && cancelled.is_err());
    shows(&client, &table, "x", &[("c", "1")], sent).await;
    tokio::time::sleep(SLACK).await;
    assert_eq!(
        index(&client, &table, "x").await,
        keys(&[("c", "1")]),
        "only the write that succeeded"
    );
}

#[tokio::test]
async fn items_written_before_the_proxy_saw_the_table_are_in_the_index_at_once() {
    let direct = client(&upstream()).await;
    let table = table(&direct).await;
    put(&direct, &table, "a", "1", Some("x")).await.unwrap();
    let (_proxy, client) = lagging().await;

    let seen = index(&client, &table, "x").await;

    assert_eq!(seen, keys(&[("a", "1")]));
}

/// Every table `ListTables` names, page after page.
async fn all_tables(client: &Client) -> Vec<String> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = client
            .list_tables()
            .set_exclusive_start_table_name(start.take())
            .send()
            .await
            .expect("list the tables");
        names.extend(page.table_names().iter().cloned());
        match page.last_evaluated_table_name {
            Some(last) => start = Some(last),
            None => return names,
        }
    }
}

#[tokio::test]
async fn the_index_view_is_not_listed_among_the_tables() {
    let (_proxy, through) = lagging().await;
    let table = table(&through).await;
    index(&through, &table, "x").await;

    let listed = all_tables(&through).await;
    let direct = all_tables(&client(&upstream()).await).await;

    assert!(listed.contains(&table));
    assert!(!listed.iter().any(|n| n.ends_with(VIEW_SUFFIX)));
    assert!(
        direct.contains(&format!("{table}{VIEW_SUFFIX}")),
        "the view is a table of DynamoDB Local"
    );
}

#[tokio::test]
async fn the_index_is_read_your_writes_when_lag_is_off() {
    let proxy = proxy(|_| {}).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;

    put(&client, &table, "a", "1", Some("x")).await.unwrap();
    let seen = index(&client, &table, "x").await;

    assert_eq!(seen, keys(&[("a", "1")]));
    let summary = proxy.summary();
    assert_eq!(
        (summary.index_view_reads, summary.index_view_writes),
        (0, 0)
    );
}

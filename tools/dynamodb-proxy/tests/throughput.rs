//! Per-partition throttling through the proxy, seen by the real SDK.

mod common;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use common::{cancellation_codes, client, proxy, put, s, table, transact_put};
use dynamodb_proxy::Limits;

/// `units` write units per partition, refilled so slowly (one unit per ten
/// seconds) that a busy machine's slowness cannot make room during a test.
fn writes(units: f64) -> Limits {
    Limits {
        write_units_per_second: 0.1,
        burst_seconds: units * 10.0,
        read_units_per_second: 3000.0,
    }
}

/// Five write units per partition.
fn five_writes() -> Limits {
    writes(5.0)
}

/// The throttling reasons of a throttled put (panics on any other outcome).
fn throttling_reasons(result: common::PutResult) -> Vec<String> {
    match result
        .expect_err("the put is throttled")
        .into_service_error()
    {
        PutItemError::ThrottlingException(e) => e
            .throttling_reasons()
            .iter()
            .map(|r| r.reason().unwrap_or_default().to_owned())
            .collect(),
        other => panic!("expected ThrottlingException, got {other:?}"),
    }
}

#[tokio::test]
async fn a_partition_over_its_rate_is_throttled_while_another_partition_is_not() {
    let proxy = proxy(|c| c.throughput = Some(five_writes())).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    for sk in ["1", "2", "3", "4", "5"] {
        put(&client, &table, "hot", sk, None)
            .await
            .expect("within the partition's rate");
    }

    let over = put(&client, &table, "hot", "6", None).await;
    let other = put(&client, &table, "cold", "1", None).await;

    assert_eq!(
        throttling_reasons(over),
        ["TableWriteKeyRangeThroughputExceeded"]
    );
    assert!(other.is_ok(), "{other:?}");
    let summary = proxy.summary();
    assert_eq!(
        summary.throttles[&format!(r#"table/{table} {{"S":"hot"}}"#)],
        1
    );
    assert_eq!(summary.throttles_total(), 1);
}

#[tokio::test]
async fn index_partitions_are_throttled_separately_from_the_table() {
    let proxy = proxy(|c| c.throughput = Some(five_writes())).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    // Five items in five table partitions, all in one index partition.
    for pk in ["a", "b", "c", "d", "e"] {
        put(&client, &table, pk, "1", Some("shared"))
            .await
            .expect("within every partition's rate");
    }

    let same_index_partition = put(&client, &table, "f", "1", Some("shared")).await;
    let other_index_partition = put(&client, &table, "g", "1", Some("other")).await;
    let not_in_the_index = put(&client, &table, "h", "1", None).await;

    assert_eq!(
        throttling_reasons(same_index_partition),
        ["IndexWriteKeyRangeThroughputExceeded"]
    );
    assert!(other_index_partition.is_ok() && not_in_the_index.is_ok());
    assert_eq!(
        proxy.summary().throttles[&format!(r#"table/{table}/index/byG {{"S":"shared"}}"#)],
        1
    );
}

#[tokio::test]
async fn a_transactional_write_costs_twice_and_is_cancelled_when_throttled() {
    let proxy = proxy(|c| c.throughput = Some(writes(4.0))).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    transact_put(&client, &table, &[("hot", "1")])
        .await
        .expect("2 of 4 units");
    transact_put(&client, &table, &[("hot", "2")])
        .await
        .expect("4 of 4 units");

    let over = transact_put(&client, &table, &[("cold", "1"), ("hot", "3")]).await;

    assert_eq!(cancellation_codes(over), ["None", "ThrottlingError"]);
}

#[tokio::test]
async fn a_batch_returns_its_throttled_items_unprocessed() {
    let proxy = proxy(|c| c.throughput = Some(writes(2.0))).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    let writes: Vec<WriteRequest> = ["1", "2", "3"]
        .iter()
        .map(|sk| {
            let put = PutRequest::builder()
                .item("pk", s("hot"))
                .item("sk", s(sk))
                .build()
                .unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();

    let output = client
        .batch_write_item()
        .request_items(&table, writes)
        .send()
        .await
        .expect("two items fit");

    let unprocessed = &output.unprocessed_items().expect("unprocessed items")[&table];
    assert_eq!(unprocessed.len(), 1);
    let sk = unprocessed[0].put_request().unwrap().item()["sk"]
        .as_s()
        .unwrap();
    assert_eq!(sk, "3");
    assert!(common::exists(&table, "hot", "1").await && !common::exists(&table, "hot", "3").await);
}

#[tokio::test]
async fn reads_are_charged_per_partition_and_throttled_over_the_read_rate() {
    // Two read units per partition, one more every ten seconds.
    let limits = Limits {
        read_units_per_second: 0.1,
        burst_seconds: 20.0,
        ..Limits::default()
    };
    let proxy = proxy(|c| c.throughput = Some(limits)).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    let get = |pk: &'static str| {
        client
            .get_item()
            .table_name(&table)
            .key("pk", s(pk))
            .key("sk", s("1"))
            .consistent_read(true)
            .send()
    };
    get("hot").await.expect("1 of 2 units");
    get("hot").await.expect("2 of 2 units");

    let over = get("hot").await;
    let other = get("cold").await;

    let error = over.expect_err("throttled").into_service_error();
    assert!(error.is_throttling_exception(), "{error:?}");
    assert!(other.is_ok());
}

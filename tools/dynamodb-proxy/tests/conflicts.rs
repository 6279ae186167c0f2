//! Transaction conflicts through the proxy, seen by the real SDK: what the
//! service answers and DynamoDB Local never does.

mod common;

use std::time::Duration;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use common::{
    cancellation_codes, client, exists, proxy, put, table, transact_put, transact_put_with_token,
    TransactResult,
};

/// The hold of these tests: long enough to act while it lasts.
const HOLD: Duration = Duration::from_millis(1500);

/// Starts a transaction putting `items` in the background and returns once
/// the proxy holds them (its answer comes when the hold ends).
async fn holding(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: &'static [(&'static str, &'static str)],
) -> tokio::task::JoinHandle<TransactResult> {
    let (client, table) = (client.clone(), table.to_owned());
    let transaction = tokio::spawn(async move { transact_put(&client, &table, items).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    transaction
}

#[tokio::test]
async fn overlapping_transactions_on_a_shared_item_conflict_and_disjoint_ones_do_not() {
    let proxy = proxy(|c| c.conflicts = Some(HOLD)).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    let first = holding(&client, &table, &[("a", "1"), ("b", "1")]).await;

    let overlapping = transact_put(&client, &table, &[("c", "1"), ("b", "1")]).await;
    let disjoint = transact_put(&client, &table, &[("d", "1"), ("e", "1")]).await;
    first.await.unwrap().expect("the first transaction commits");

    assert_eq!(
        cancellation_codes(overlapping),
        ["None", "TransactionConflict"]
    );
    assert!(disjoint.is_ok(), "{disjoint:?}");
    assert!(
        !exists(&table, "c", "1").await,
        "a cancelled transaction writes nothing"
    );
    let summary = proxy.summary();
    assert_eq!(summary.transactions_cancelled, 1);
    assert_eq!(summary.forwarded["TransactWriteItems"], 2);
}

#[tokio::test]
async fn a_cancellation_carries_the_service_message_for_each_reason() {
    let proxy = proxy(|c| c.conflicts = Some(HOLD)).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    let _first = holding(&client, &table, &[("a", "1")]).await;

    let error = transact_put(&client, &table, &[("a", "1"), ("z", "1")])
        .await
        .unwrap_err()
        .into_service_error();

    let TransactWriteItemsError::TransactionCanceledException(cancelled) = error else {
        panic!("expected TransactionCanceledException, got {error:?}");
    };
    let reasons = cancelled.cancellation_reasons();
    assert_eq!(
        reasons[0].message(),
        Some("Transaction is ongoing for the item.")
    );
    assert_eq!(reasons[1].message(), None);
    assert_eq!(
        cancelled.message(),
        Some("Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]")
    );
}

#[tokio::test]
async fn a_plain_write_on_a_held_item_conflicts_and_succeeds_after_the_hold() {
    let proxy = proxy(|c| c.conflicts = Some(HOLD)).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    let transaction = holding(&client, &table, &[("a", "1")]).await;

    let during = put(&client, &table, "a", "1", None).await;
    let other_item = put(&client, &table, "a", "2", None).await;
    transaction.await.unwrap().unwrap();
    let after = put(&client, &table, "a", "1", None).await;

    assert!(
        matches!(
            during.unwrap_err().into_service_error(),
            PutItemError::TransactionConflictException(_)
        ),
        "a put on the held item is TransactionConflictException"
    );
    assert!(
        other_item.is_ok(),
        "another item of the same partition is not held"
    );
    assert!(after.is_ok(), "{after:?}");
    assert_eq!(proxy.summary().plain_conflicts, 1);
}

#[tokio::test]
async fn a_transaction_holds_nothing_when_conflicts_are_off() {
    let proxy = proxy(|_| {}).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    transact_put(&client, &table, &[("a", "1")]).await.unwrap();

    let again = transact_put(&client, &table, &[("a", "1")]).await;
    let plain = put(&client, &table, "a", "1", None).await;

    assert!(again.is_ok() && plain.is_ok());
    assert_eq!(
        proxy.summary().transactions_cancelled + proxy.summary().plain_conflicts,
        0
    );
}

#[tokio::test]
async fn a_repeat_of_a_transaction_in_flight_is_in_progress_and_of_a_committed_one_succeeds() {
    let proxy = proxy(|c| c.conflicts = Some(HOLD)).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    let items: &'static [(&str, &str)] = &[("t", "1")];
    let first = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(
            async move { transact_put_with_token(&client, &table, items, Some("tok-1")).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let while_in_flight = transact_put_with_token(&client, &table, items, Some("tok-1")).await;
    first.await.unwrap().expect("the first transaction commits");
    let after_commit = transact_put_with_token(&client, &table, items, Some("tok-1")).await;
    let another_token = transact_put_with_token(&client, &table, items, Some("tok-2")).await;

    let error = while_in_flight.unwrap_err().into_service_error();
    assert!(
        matches!(
            error,
            TransactWriteItemsError::TransactionInProgressException(_)
        ),
        "{error:?}"
    );
    assert!(
        after_commit.is_ok(),
        "a committed token is idempotent (DynamoDB Local answers it as the first): {after_commit:?}"
    );
    assert!(
        another_token.is_err(),
        "another token is another transaction, whose condition fails"
    );
    assert_eq!(proxy.summary().transactions_in_progress, 1);
}

//! Server errors through the proxy, seen by the real SDK: the service's
//! `InternalServerError` (HTTP 500) before a request is forwarded (nothing
//! done) or after it was applied, at a seeded rate or armed exactly, and
//! what the SDK's own retries make of them.

mod common;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::Client;
use common::{client, exists, proxy, put, table};
use dynamodb_proxy::{Fault, ServerErrors};

/// A client through `endpoint` that retries as the project's store does
/// (`shared::store::table`: the standard mode, three attempts in all).
async fn retrying_client(endpoint: &str, attempts: u32) -> Client {
    let plain = client(endpoint).await;
    let config = plain
        .config()
        .to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(1)),
        )
        .build();
    Client::from_conf(config)
}

fn server_error(result: common::PutResult) -> (u16, Option<String>, Option<String>) {
    let error = result.expect_err("a server error");
    let status = error.raw_response().map(|r| r.status().as_u16());
    let service = error.into_service_error();
    assert!(
        matches!(service, PutItemError::InternalServerError(_)),
        "{service:?}"
    );
    (
        status.unwrap_or_default(),
        service.code().map(str::to_owned),
        service.message().map(str::to_owned),
    )
}

#[tokio::test]
async fn an_error_before_forwarding_is_the_service_500_and_changes_nothing() {
    let proxy = proxy(|_| {}).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    proxy.inject(Fault::InternalServerError {
        operation: "PutItem".into(),
        count: 1,
        forwarded: false,
    });

    let failed = put(&client, &table, "a", "1", None).await;

    assert_eq!(
        server_error(failed),
        (
            500,
            Some("InternalServerError".into()),
            Some("Internal server error".into())
        )
    );
    assert!(!exists(&table, "a", "1").await, "nothing was written");
    let summary = proxy.summary();
    assert_eq!(summary.server_errors_before_forwarding, 1);
    assert_eq!(summary.forwarded.get("PutItem"), None);
}

#[tokio::test]
async fn an_error_after_forwarding_comes_once_the_write_was_applied() {
    let proxy = proxy(|_| {}).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    proxy.inject(Fault::InternalServerError {
        operation: "PutItem".into(),
        count: 1,
        forwarded: true,
    });

    let failed = put(&client, &table, "a", "1", None).await;

    assert_eq!(server_error(failed).0, 500);
    assert!(exists(&table, "a", "1").await, "the write was applied");
    let summary = proxy.summary();
    assert_eq!(summary.server_errors_after_forwarding, 1);
    assert_eq!(summary.forwarded["PutItem"], 1);
}

#[tokio::test]
async fn the_sdk_retries_a_server_error_by_itself_up_to_its_attempts() {
    let proxy = proxy(|_| {}).await;
    let client = retrying_client(&proxy.endpoint(), 3).await;
    let table = table(&client).await;
    let arm = |count| {
        proxy.inject(Fault::InternalServerError {
            operation: "PutItem".into(),
            count,
            forwarded: false,
        })
    };

    arm(2);
    let third_attempt = put(&client, &table, "a", "1", None).await;
    arm(3);
    let out_of_attempts = put(&client, &table, "a", "2", None).await;

    assert!(third_attempt.is_ok(), "{third_attempt:?}");
    assert!(exists(&table, "a", "1").await);
    assert_eq!(server_error(out_of_attempts).0, 500);
    assert!(!exists(&table, "a", "2").await);
    let summary = proxy.summary();
    assert_eq!(summary.server_errors_before_forwarding, 5);
    assert_eq!(summary.forwarded["PutItem"], 1);
}

#[tokio::test]
async fn a_conditional_write_retried_after_an_applied_500_fails_its_own_condition() {
    let proxy = proxy(|_| {}).await;
    let client = retrying_client(&proxy.endpoint(), 3).await;
    let table = table(&client).await;
    proxy.inject(Fault::InternalServerError {
        operation: "PutItem".into(),
        count: 1,
        forwarded: true,
    });

    let create = client
        .put_item()
        .table_name(&table)
        .item("pk", common::s("a"))
        .item("sk", common::s("1"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;

    // The first attempt created the item; the SDK's retry meets it.
    let error = create.expect_err("the retry fails").into_service_error();
    assert!(
        matches!(error, PutItemError::ConditionalCheckFailedException(_)),
        "{error:?}"
    );
    assert!(exists(&table, "a", "1").await);
    assert_eq!(proxy.summary().forwarded["PutItem"], 2);
}

#[tokio::test]
async fn a_rate_of_server_errors_is_replayed_exactly_by_its_seed() {
    let errors = ServerErrors {
        rate: 0.3,
        seed: 11,
    };
    let run = |seed: u64| async move {
        let proxy = proxy(|c| c.server_errors = Some(ServerErrors { seed, ..errors })).await;
        let client = client(&proxy.endpoint()).await;
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            let listed = client.list_tables().limit(1).send().await;
            outcomes.push(listed.is_ok());
        }
        (outcomes, proxy.summary())
    };

    let (first, summary) = run(11).await;
    let (again, _) = run(11).await;
    let (other, _) = run(12).await;

    assert_eq!(first, again, "the same seed, the same errors");
    assert_ne!(first, other, "another seed, other errors");
    let failed = first.iter().filter(|ok| !**ok).count() as u64;
    assert!((4..=24).contains(&failed), "{failed} of 40 at 30 %");
    assert_eq!(summary.server_errors_total(), failed);
    assert!(
        summary.server_errors_before_forwarding > 0 && summary.server_errors_after_forwarding > 0
    );
}

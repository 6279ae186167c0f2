//! Writes whose outcome the API cannot know, made to happen on purpose with
//! the DynamoDB-faithful proxy's faults (`tools/dynamodb-proxy`):
//!
//! - a *withheld answer*: the proxy forwards the transaction, DynamoDB Local
//!   applies it, and the answer is held past the write's deadline (0.7 s
//!   after its handler started) and the SDK's attempt timeout (2 s), on
//!   every attempt: the write happened, the API never heard;
//! - a *dropped request*: the connection is closed before forwarding: the
//!   write did not happen, but to the API that looks the same;
//! - *throttling on every attempt*: DynamoDB refused the write: nothing changed.
//!
//! A 503 after a write that may have been applied says so; one that
//! certainly changed nothing says that. A `POST` repeated with its
//! `Idempotency-Key` after either then creates the client exactly once, and
//! a repeated `PATCH`/`DELETE` leaves the client as one application would.

use std::time::Duration;

use dynamodb_proxy::{Fault, Limits, Proxy, ProxyConfig};
use integration_tests::{
    client_uri, dynamodb_local_endpoint, TestApi, TestRequest, TestResponse, TEST_TABLE,
};
use serde_json::json;
use shared::function::Config;

const MAY_HAVE_BEEN_APPLIED: &str = "may or may not have been applied";
const NOTHING_CHANGED: &str = "nothing was changed";
/// The SDK's attempt timeout (`shared::store::table`).
const SDK_ATTEMPT_TIMEOUT: Duration = shared::store::table::SDK_ATTEMPT_TIMEOUT;

/// The API through a proxy of this test's own with every emulation off
/// (faults only), or with `config` changed by `adjust`.
async fn api_through_proxy(adjust: impl FnOnce(&mut ProxyConfig)) -> (Proxy, TestApi) {
    let mut config = ProxyConfig::transparent(dynamodb_local_endpoint());
    adjust(&mut config);
    TestApi::through_proxy(config, &Config::for_table(TEST_TABLE)).await
}

/// Every attempt of the next transaction (the SDK makes at most 3) is
/// applied and its answer held past the attempt timeout.
fn withhold_every_attempt(proxy: &Proxy) {
    proxy.inject(Fault::WithholdAnswer {
        operation: "TransactWriteItems".into(),
        count: 3,
        delay: Some(Duration::from_secs(3)),
    });
}

fn assert_unavailable_saying(answer: &TestResponse, what: &str) {
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.error_code(), "unavailable");
    assert!(answer.header("retry-after").is_some());
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(what), "{message}");
}

fn create_with_key(key: &str, tenant_key: &str) -> TestRequest {
    TestRequest::keyed_create(
        tenant_key,
        key,
        &json!({"name": "Once Only", "phone": "+1 555-0100"}),
    )
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_says_so_and_its_keyed_retry_creates_one_client() {
    let (proxy, api) = api_through_proxy(|_| {}).await;
    let tenant = api.tenant().await;
    withhold_every_attempt(&proxy);

    let sent = std::time::Instant::now();
    let lost = api.send(create_with_key("lost-answer", &tenant.key)).await;
    let answered_after = sent.elapsed();
    proxy.clear_faults();
    let retried = api.send(create_with_key("lost-answer", &tenant.key)).await;

    assert_unavailable_saying(&lost, MAY_HAVE_BEEN_APPLIED);
    assert!(proxy.summary().answers_withheld >= 1);
    // Given up at the write's deadline (0.7 s), not after the SDK's attempt
    // timeouts (2 s each, up to its 5 s operation timeout).
    assert!(
        answered_after < SDK_ATTEMPT_TIMEOUT,
        "answered after {answered_after:?}"
    );
    assert_eq!(retried.status, 201, "{}", retried.body);
    assert_eq!(
        retried.header("idempotent-replayed"),
        Some("true"),
        "the first attempt was applied"
    );
    assert_eq!(api.recount(&tenant.org).await, (1, 0));
    assert_eq!(api.list(&tenant, "").await["total"], 1);
}

#[tokio::test]
async fn a_create_whose_request_is_dropped_says_its_outcome_is_unknown_and_its_keyed_retry_creates_one_client(
) {
    let (proxy, api) = api_through_proxy(|_| {}).await;
    let tenant = api.tenant().await;
    proxy.inject(Fault::DropRequest {
        operation: "TransactWriteItems".into(),
        count: 3,
    });

    let dropped = api.send(create_with_key("dropped", &tenant.key)).await;
    proxy.clear_faults();
    let retried = api.send(create_with_key("dropped", &tenant.key)).await;

    // A connection closed mid-request cannot be told from a lost answer.
    assert_unavailable_saying(&dropped, MAY_HAVE_BEEN_APPLIED);
    assert!(proxy.summary().requests_dropped >= 1);
    assert_eq!(retried.status, 201, "{}", retried.body);
    assert_eq!(
        retried.header("idempotent-replayed"),
        None,
        "nothing was applied before"
    );
    assert_eq!(api.recount(&tenant.org).await, (1, 0));
}

#[tokio::test]
async fn a_patch_whose_answer_is_lost_says_so_and_its_retry_applies_it_once() {
    let (proxy, api) = api_through_proxy(|_| {}).await;
    let tenant = api.tenant().await;
    let uri = client_uri(&api.create(&tenant, json!({"name": "Before"})).await);
    withhold_every_attempt(&proxy);

    let lost = api.patch(&tenant, &uri, &json!({"name": "After"})).await;
    proxy.clear_faults();
    let retried = api.patch(&tenant, &uri, &json!({"name": "After"})).await;

    assert_unavailable_saying(&lost, MAY_HAVE_BEEN_APPLIED);
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(retried.body["data"]["name"], "After");
    assert_eq!(
        retried.header("etag"),
        Some("\"2\""),
        "applied once: one version step"
    );
}

#[tokio::test]
async fn a_delete_whose_answer_is_lost_says_so_and_the_client_is_gone_once() {
    let (proxy, api) = api_through_proxy(|_| {}).await;
    let tenant = api.tenant().await;
    let uri = client_uri(&api.create(&tenant, json!({"name": "Doomed"})).await);
    withhold_every_attempt(&proxy);

    let lost = api.delete(&tenant, &uri).await;
    proxy.clear_faults();
    let retried = api.delete(&tenant, &uri).await;

    assert_unavailable_saying(&lost, MAY_HAVE_BEEN_APPLIED);
    assert_eq!(retried.status, 404, "the first attempt deleted it");
    assert_eq!(api.recount(&tenant.org).await, (0, 0));
    assert_eq!(api.list(&tenant, "").await["total"], 0);
}

#[tokio::test]
async fn a_write_throttled_on_every_attempt_says_nothing_was_changed() {
    let (proxy, api) = api_through_proxy(|_| {}).await;
    let tenant = api.tenant().await;
    proxy.set_config(ProxyConfig {
        throughput: Some(Limits {
            write_units_per_second: 0.001,
            burst_seconds: 0.0,
            ..Limits::default()
        }),
        ..proxy.config()
    });

    let refused = api.send(create_with_key("throttled", &tenant.key)).await;
    proxy.set_config(ProxyConfig {
        throughput: None,
        ..proxy.config()
    });

    assert_unavailable_saying(&refused, NOTHING_CHANGED);
    assert_eq!(api.recount(&tenant.org).await, (0, 0));
}

#[tokio::test]
async fn a_write_that_cannot_reach_dynamodb_at_all_says_nothing_was_changed() {
    let (proxy, api) = TestApi::through_counting_proxy().await;
    let tenant = api.tenant().await;
    assert_eq!(
        api.list(&tenant, "").await["total"],
        0,
        "the key is now cached"
    );
    drop(proxy);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // No Idempotency-Key: the transaction is the create's first DynamoDB call.
    let refused = api
        .post(&tenant, "/api/v1/clients", &json!({"name": "Unsent"}))
        .await;

    assert_unavailable_saying(&refused, NOTHING_CHANGED);
}

//! Helpers for the proxy's tests against DynamoDB Local: the upstream's
//! address, SDK clients through the proxy, and fresh tables.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use dynamodb_proxy::{Proxy, ProxyConfig};

/// The DynamoDB Local `scripts/test` started.
pub fn upstream() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test, which starts DynamoDB Local")
}

/// A proxy before DynamoDB Local, configured by `change` from the transparent configuration.
pub async fn proxy(change: impl FnOnce(&mut ProxyConfig)) -> Proxy {
    let mut config = ProxyConfig::transparent(upstream());
    change(&mut config);
    Proxy::start(config).await.expect("start the proxy")
}

/// An SDK client for `endpoint`, without retries, giving up after `timeout`.
pub async fn client_with_timeout(endpoint: &str, timeout: Duration) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build())
        .load()
        .await;
    Client::new(&config)
}

/// An SDK client for `endpoint`, without retries.
pub async fn client(endpoint: &str) -> Client {
    client_with_timeout(endpoint, Duration::from_secs(10)).await
}

/// The name of the table a test creates (unique per process and call).
fn fresh_table_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("proxy-test-{}-{nanos}-{n}", std::process::id())
}

/// A new on-demand table `pk`/`sk` (strings) with one keys-only index `byG` on `g`.
pub async fn table(client: &Client) -> String {
    let name = fresh_table_name();
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    let string = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(string("pk"))
        .attribute_definitions(string("sk"))
        .attribute_definitions(string("g"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("byG")
                .key_schema(key("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create the test table");
    name
}

/// A string attribute value.
pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

/// The result of a `PutItem`.
pub type PutResult = Result<
    aws_sdk_dynamodb::operation::put_item::PutItemOutput,
    aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::put_item::PutItemError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
>;

/// Puts `{pk, sk}` (and `g` if given) into `table`.
pub async fn put(client: &Client, table: &str, pk: &str, sk: &str, g: Option<&str>) -> PutResult {
    let mut request = client
        .put_item()
        .table_name(table)
        .item("pk", s(pk))
        .item("sk", s(sk));
    if let Some(g) = g {
        request = request.item("g", s(g));
    }
    request.send().await
}

/// Whether `{pk, sk}` is in `table` (read from DynamoDB Local directly).
pub async fn exists(table: &str, pk: &str, sk: &str) -> bool {
    let direct = client(&upstream()).await;
    let output = direct
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", s(sk))
        .consistent_read(true)
        .send()
        .await
        .expect("read DynamoDB Local directly");
    output.item.is_some()
}

/// The result of a `TransactWriteItems`.
pub type TransactResult = Result<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
    aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
>;

/// One transaction putting `{pk, sk}` for each pair, in order.
pub async fn transact_put(client: &Client, table: &str, items: &[(&str, &str)]) -> TransactResult {
    transact_put_with_token(client, table, items, None).await
}

/// [`transact_put`] with a `ClientRequestToken`; each put only where the
/// item does not exist yet.
pub async fn transact_put_with_token(
    client: &Client,
    table: &str,
    items: &[(&str, &str)],
    token: Option<&str>,
) -> TransactResult {
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
    let mut request = client
        .transact_write_items()
        .set_client_request_token(token.map(str::to_owned));
    for (pk, sk) in items {
        let put = Put::builder()
            .table_name(table)
            .item("pk", s(pk))
            .item("sk", s(sk))
            .set_condition_expression(token.map(|_| "attribute_not_exists(pk)".to_owned()))
            .build()
            .unwrap();
        request = request.transact_items(TransactWriteItem::builder().put(put).build());
    }
    request.send().await
}

/// The cancellation reason codes of a cancelled transaction (panics on any other outcome).
pub fn cancellation_codes(result: TransactResult) -> Vec<String> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match result
        .expect_err("the transaction is cancelled")
        .into_service_error()
    {
        TransactWriteItemsError::TransactionCanceledException(e) => e
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or_default().to_owned())
            .collect(),
        other => panic!("expected TransactionCanceledException, got {other:?}"),
    }
}

//! The DynamoDB client every function builds once, and the [`Table`] the
//! stores work on: TLS trusting Amazon's roots only, bounded timeouts and
//! bounded retries.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use super::error::StoreError;
use super::item::Item;
use super::layout::attr;
use super::outcome::OutcomeInterceptor;
use super::usage::UsageInterceptor;

/// The longest one attempt of a DynamoDB call may take before the SDK gives
/// it up (and retries it, within [`SDK_OPERATION_TIMEOUT`]). Writes end
/// earlier, at their deadline ([`super::write::WriteDeadline`]).
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts per DynamoDB call, the first included (the SDK's standard retry mode).
pub const SDK_MAX_ATTEMPTS: u32 = 3;
/// The longest any one DynamoDB call may take, retries included; keeps a
/// request well inside the function's timeout when DynamoDB is unreachable.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Rounds of a batch call (`BatchWriteItem`, `BatchGetItem`) whose
/// unprocessed part is sent again before giving up.
pub const MAX_BATCH_ROUNDS: u32 = 6;

/// The roots of Amazon Trust Services (Amazon Root CA 1–4 and the Starfield
/// Services G2 root that cross-signs them), which issue the certificates of
/// every AWS endpoint, DynamoDB's included. Trusting only these instead of
/// the system's ~145 roots saves ~3 ms of every cold start (reading and
/// parsing the system bundle; see docs/performance.md) and narrows whom the
/// functions trust. Taken from Debian's ca-certificates.
const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

/// The variable naming DynamoDB's endpoint (DynamoDB Local), read by the
/// SDK. Blank means AWS's regional endpoint: `sam local` sets it blank when
/// `template.yaml`'s `!If` leaves it out (no `DynamoDbEndpoint` given),
/// which the SDK alone would take for an endpoint.
pub const ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL_DYNAMODB";

/// Whether an endpoint variable's value is set but blank.
fn blank(value: Option<&str>) -> bool {
    value.is_some_and(|value| value.trim().is_empty())
}

/// Builds the DynamoDB client from the environment, with one rustls + ring
/// HTTPS stack trusting Amazon's roots, bounded timeouts and bounded
/// retries, and the interceptor that counts each request's DynamoDB usage.
pub async fn connect() -> aws_sdk_dynamodb::Client {
    connect_to(None).await
}

/// [`connect`], with the endpoint set to `endpoint` when given (tests and
/// the benchmark, to go through a proxy), else taken from the environment.
pub async fn connect_to(endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let trust_store = tls::TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    let tls_context = tls::TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a trust store of valid certificates");
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context)
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(SDK_MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(1)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
                .operation_timeout(SDK_OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await;
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&config)
        .interceptor(UsageInterceptor)
        .interceptor(OutcomeInterceptor);
    if let Some(endpoint) = endpoint {
        dynamodb = dynamodb.endpoint_url(endpoint);
    } else if blank(std::env::var(ENDPOINT_VARIABLE).ok().as_deref()) {
        // The SDK would take "" for an endpoint; blank means AWS's own.
        dynamodb.set_endpoint_url(None);
    }
    let dynamodb = dynamodb.build();
    aws_sdk_dynamodb::Client::from_conf(dynamodb)
}

/// A DynamoDB client and the name of the table it works on.
#[derive(Clone, Debug)]
pub struct Table {
    /// The DynamoDB client, built once per process.
    pub client: aws_sdk_dynamodb::Client,
    /// The table's name.
    pub name: String,
}

impl Table {
    /// The table `name`, reached through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, name: &str) -> Self {
        Self {
            client,
            name: name.to_owned(),
        }
    }

    /// The item with this key, read strongly consistent (one `GetItem`).
    pub async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(attr::PK, AttributeValue::S(pk))
            .key(attr::SK, AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item)
    }

    /// Sends one `BatchWriteItem` of at most 25 requests, sending the
    /// unprocessed ones again (with a short, growing pause) until none is
    /// left; [`StoreError::Unavailable`] if some are still unprocessed after
    /// [`MAX_BATCH_ROUNDS`] rounds.
    pub async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut pending = Some(requests).filter(|r| !r.is_empty());
        let mut rounds = 0;
        while let Some(batch) = pending.take() {
            rounds += 1;
            before_batch_round(rounds, "BatchWriteItem").await?;
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.name, batch)
                .send()
                .await?;
            pending = output
                .unprocessed_items
                .and_then(|mut rest| rest.remove(&self.name))
                .filter(|rest| !rest.is_empty());
        }
        Ok(())
    }

    /// One page (strongly consistent `Query`) of the items of partition `pk`
    /// whose `sk` begins with `sk_prefix`, resuming at `start_key`.
    pub async fn prefix_page(
        &self,
        pk: &str,
        sk_prefix: &str,
        start_key: Option<Item>,
        part: PagePart,
    ) -> Result<QueryOutput, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .expression_attribute_values(":prefix", AttributeValue::S(sk_prefix.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start_key);
        query = match part {
            PagePart::Whole => query,
            PagePart::SortKeys(at_most) => query.projection_expression("#sk").set_limit(at_most),
            PagePart::AtMost(items) => query.limit(items),
        };
        Ok(query.send().await?)
    }

    /// Every item of partition `pk` whose `sk` begins with `sk_prefix`, read
    /// strongly consistent, page after page: O(matching items), so only for
    /// bounded sets (an organization's API keys) and off-request checks.
    pub async fn query_prefix(&self, pk: String, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .prefix_page(&pk, sk_prefix, start_key, PagePart::Whole)
                .await?;
            items.extend(output.items.unwrap_or_default());
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(items);
            }
        }
    }
}

/// What a page of [`Table::prefix_page`] holds.
#[derive(Debug, Clone, Copy)]
pub enum PagePart {
    /// Whole items, up to 1 MB.
    Whole,
    /// Only the sort keys, up to 1 MB of items (and at most this many, if given).
    SortKeys(Option<i32>),
    /// At most this many whole items.
    AtMost(i32),
}

/// Called before round `round` (1-based) of a batch call whose unprocessed
/// part is sent again: a short pause growing with the round, or
/// [`StoreError::Unavailable`] past [`MAX_BATCH_ROUNDS`].
pub async fn before_batch_round(round: u32, operation: &str) -> Result<(), StoreError> {
    if round > MAX_BATCH_ROUNDS {
        return Err(StoreError::unavailable(format!(
            "{operation} left requests unprocessed after every retry"
        )));
    }
    if round > 1 {
        tokio::time::sleep(Duration::from_millis(20 << round)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    #[test]
    fn the_trust_store_holds_five_roots_that_rustls_accepts() {
        let roots: Vec<CertificateDer> =
            CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
                .collect::<Result<_, _>>()
                .expect("valid PEM");
        let mut store = rustls::RootCertStore::empty();
        for root in roots.clone() {
            store.add(root).expect("a parsable root certificate");
        }

        assert_eq!(roots.len(), 5);
        assert_eq!(store.len(), 5);
    }

    #[test]
    fn a_blank_endpoint_variable_means_aws_own_endpoint() {
        assert!(blank(Some("")));
        assert!(blank(Some("  ")));
        assert!(!blank(None));
        assert!(!blank(Some("http://127.0.0.1:8000")));
    }

    #[tokio::test]
    async fn the_client_builds_with_those_roots() {
        // Building the HTTPS connector parses every root (and panics on a bad one).
        let client = connect().await;

        assert!(client.config().http_client().is_some());
    }
}

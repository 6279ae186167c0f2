//! Everything that talks to DynamoDB.
//!
//! - [`schema`]: the table's keys, indexes and projections: the one definition
//!   used to create the table and checked against `template.yaml`.
//! - [`item`]: how a client is laid out as an item (keys, sort keys, search fields).
//! - [`clients`]: get, create, update and delete, with exact per-organization counts.
//! - [`listing`]: list pages, sorted, filtered and searched through the indexes.
//! - [`idempotency`]: records that replay the first answer to an `Idempotency-Key`.
//! - [`keys`]: API key records.
//! - [`import`]: bulk import of sample or existing clients (demo data, tests, benchmark).
//!
//! The data model and the cost of every request are written down in
//! `docs/data-model.md`.

pub mod clients;
pub mod idempotency;
pub mod import;
pub mod item;
pub mod keys;
pub mod listing;
pub mod schema;

use std::error::Error as StdError;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::error::ApiError;

/// Attempts per DynamoDB call, the first included (the SDK's standard retry mode).
pub const SDK_MAX_ATTEMPTS: u32 = 3;
/// The longest any one DynamoDB call may take, retries included; keeps a
/// request well inside the function's timeout when DynamoDB is unreachable.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// What `Retry-After` tells a caller when DynamoDB is throttling or unreachable.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The roots of Amazon Trust Services (Amazon Root CA 1–4 and the Starfield
/// Services G2 root that cross-signs them), which issue the certificates of
/// every AWS endpoint, DynamoDB's included. Trusting only these instead of
/// the system's ~145 roots saves ~3 ms of every cold start (reading and
/// parsing the system bundle; see docs/performance.md) and narrows whom the
/// functions trust. Taken from Debian's ca-certificates.
const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

/// Builds the DynamoDB client from the environment, with one rustls + ring
/// HTTPS stack trusting Amazon's roots, bounded timeouts and bounded retries.
pub async fn connect() -> aws_sdk_dynamodb::Client {
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
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(SDK_OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// A DynamoDB client and the name of the table it works on.
#[derive(Clone, Debug)]
pub struct Table {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
}

impl Table {
    pub fn new(client: aws_sdk_dynamodb::Client, name: &str) -> Self {
        Self {
            client,
            name: name.to_owned(),
        }
    }

    /// The item with this key, read strongly consistent (one `GetItem`).
    pub async fn get_item(&self, pk: String, sk: String) -> Result<Option<item::Item>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(schema::attr::PK, AttributeValue::S(pk))
            .key(schema::attr::SK, AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_error)?;
        Ok(output.item)
    }
}

/// Service error codes that mean "DynamoDB is overloaded or failing right now".
const UNAVAILABLE_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

/// Maps a failed DynamoDB call (after the SDK's retries) to the API's error:
/// throttling, timeouts and unreachability are 503, anything else is a bug.
pub fn dynamo_error<E, R>(error: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let unavailable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| UNAVAILABLE_CODES.contains(&code)),
        _ => false,
    };
    if unavailable {
        ApiError::Unavailable {
            retry_after: RETRY_AFTER,
            cause: Box::new(error),
        }
    } else {
        ApiError::internal(error)
    }
}

/// Maps a value that cannot be (de)serialized to or from an item: always a bug.
pub fn item_error(error: impl Into<crate::error::Cause>) -> ApiError {
    ApiError::Internal(error.into())
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

    #[tokio::test]
    async fn the_client_builds_with_those_roots() {
        // Building the HTTPS connector parses every root (and panics on a bad one).
        let client = connect().await;

        assert!(client.config().http_client().is_some());
    }
}

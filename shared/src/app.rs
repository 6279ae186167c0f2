//! What a function builds once per container and borrows for every request.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::auth::Authenticator;
use crate::config::{Config, ConfigError};
use crate::error::ApiError;
use crate::model::OrgId;
use crate::store::clients::ClientStore;
use crate::store::keys::KeyStore;
use crate::store::schema::attr;
use crate::store::Table;

/// The longest [`App::warm_up`] may add to a function's init.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(1);

pub struct App {
    pub clients: ClientStore,
    pub auth: Authenticator,
}

impl App {
    /// Reads the configuration and builds the DynamoDB client: call once, in `main`.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = crate::store::connect().await;
        Ok(Self::new(dynamodb, &config))
    }

    /// Opens the DynamoDB connection during init, so that the first request
    /// does not pay for it: credentials and endpoint resolution, DNS, TCP and
    /// TLS happen on one `GetItem` of a key no item can have (an API key
    /// look-up item whose hash is not hex). Every function may `GetItem` (each
    /// authenticates), so this needs no extra permission. It never fails init:
    /// an error or a timeout ([`WARM_UP_TIMEOUT`]) is logged at debug and the
    /// first request connects instead.
    pub async fn warm_up(&self) {
        let started = Instant::now();
        let table = &self.clients.table;
        let call = table
            .client
            .get_item()
            .table_name(&table.name)
            .key(attr::PK, AttributeValue::S("APIKEY#warm-up".into()))
            .key(attr::SK, AttributeValue::S("APIKEY".into()))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", attr::PK)
            .send();
        match tokio::time::timeout(WARM_UP_TIMEOUT, call).await {
            Ok(Ok(_)) => tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "DynamoDB connection warmed up"
            ),
            Ok(Err(error)) => {
                tracing::debug!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error), "DynamoDB warm-up failed; ignored")
            }
            Err(_) => tracing::debug!(
                timeout_ms = WARM_UP_TIMEOUT.as_millis() as u64,
                "DynamoDB warm-up timed out; ignored"
            ),
        }
    }

    pub fn new(dynamodb: aws_sdk_dynamodb::Client, config: &Config) -> Self {
        let table = Table::new(dynamodb, &config.table_name);
        Self {
            clients: ClientStore::new(table.clone()),
            auth: Authenticator::new(KeyStore::new(table), config.key_cache_ttl),
        }
    }

    /// The organization of the request's API key, or 401.
    pub async fn authenticate(&self, request: &lambda_http::Request) -> Result<OrgId, ApiError> {
        self.auth
            .organization(crate::http::authorization(request))
            .await
    }
}

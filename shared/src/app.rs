//! What a function builds once per container and borrows for every request.

use crate::auth::Authenticator;
use crate::config::{Config, ConfigError};
use crate::error::ApiError;
use crate::model::OrgId;
use crate::store::clients::ClientStore;
use crate::store::keys::KeyStore;
use crate::store::Table;

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

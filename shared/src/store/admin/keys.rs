//! Making, listing and revoking API keys (`clients-admin`; the request path
//! only looks keys up: [`crate::store::keys`]).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::domain::api_key::NewApiKey;
use crate::domain::model::{OrgId, Timestamp};
use crate::store::error::StoreError;
use crate::store::item::Item;
use crate::store::keys::{KeyInfo, ListingItem, LookupItem};
use crate::store::layout::{
    attr, key_listing_sk, key_lookup_pk, org_pk, KEY_LISTING_SK_PREFIX, KEY_LOOKUP_SK,
};
use crate::store::outcome;
use crate::store::table::Table;

/// How long an administrative transaction is repeated while DynamoDB
/// leaves its outcome open ([`KeyAdmin::commit`]).
pub const ADMIN_PATIENCE: Duration = Duration::from_secs(30);

/// Whether a transaction's failure leaves its outcome open (no answer, a
/// server error, or the same transaction still running): worth repeating
/// with the same token.
fn unsettled(error: &SdkError<TransactWriteItemsError>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // A connection lost mid-request, not one that could not be made
        // (DynamoDB unreachable: said at once).
        SdkError::DispatchFailure(_) => !outcome::never_sent(error),
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || matches!(
                    service.err(),
                    TransactWriteItemsError::TransactionInProgressException(_)
                )
        }
        _ => false,
    }
}

/// Why a key could not be made, listed or revoked.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The organization has no key with this id.
    #[error("no key {0} in this organization")]
    NoSuchKey(String),
    /// DynamoDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operating system gave no random bytes.
    #[error("could not generate a random key: {0}")]
    Random(getrandom::Error),
}

/// The API keys of every organization, for their administration.
#[derive(Clone, Debug)]
pub struct KeyAdmin {
    table: Table,
}

impl KeyAdmin {
    /// The keys stored in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// A transaction with a fresh `ClientRequestToken`: the SDK's retries
    /// of it (after an attempt timed out, say) are then one transaction, not
    /// a conflict with itself.
    fn transaction(&self) -> TransactWriteItemsFluentBuilder {
        self.table
            .client
            .transact_write_items()
            .client_request_token(uuid::Uuid::now_v7().to_string())
    }

    /// Sends `transaction` until DynamoDB says what became of it, for up to
    /// [`ADMIN_PATIENCE`]: an administrator (or a test's setup) waits out a
    /// busy table rather than being left not knowing. Repeating it is safe
    /// because it keeps its token: a repeat of a committed transaction
    /// succeeds without applying it again, and one of a transaction still
    /// running is answered `TransactionInProgressException`, which the SDK
    /// retries only a few times within its own timeouts.
    async fn commit(&self, transaction: TransactWriteItemsFluentBuilder) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match transaction.clone().send().await {
                Ok(_) => return Ok(()),
                Err(error) if unsettled(&error) && started.elapsed() + pause < ADMIN_PATIENCE => {
                    tracing::debug!(%error, "administrative transaction unsettled; repeating it");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Creates a key for an organization; the returned key text is its only copy.
    pub async fn create_key(
        &self,
        org: &OrgId,
        label: &str,
    ) -> Result<(NewApiKey, KeyInfo), KeyError> {
        let key = NewApiKey::generate().map_err(KeyError::Random)?;
        let key_id = uuid::Uuid::now_v7().simple().to_string();
        let info = KeyInfo {
            key_id: key_id.clone(),
            label: label.to_owned(),
            created_at: Timestamp::now().to_rfc3339(),
            revoked_at: None,
        };
        let lookup = LookupItem {
            pk: key_lookup_pk(key.hash.as_str()),
            sk: KEY_LOOKUP_SK.into(),
            org_id: org.clone(),
            key_id: key_id.clone(),
            revoked: false,
        };
        let listing = ListingItem {
            pk: org_pk(org),
            sk: key_listing_sk(&key_id),
            key_hash: key.hash.as_str().to_owned(),
            info: info.clone(),
        };
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table.name)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(StoreError::failed)?,
                )
                .build())
        };
        let transaction = self
            .transaction()
            .transact_items(put(
                serde_dynamo::to_item(lookup).map_err(StoreError::corrupt)?
            )?)
            .transact_items(put(
                serde_dynamo::to_item(listing).map_err(StoreError::corrupt)?
            )?);
        self.commit(transaction).await?;
        Ok((key, info))
    }

    /// The organization's keys, oldest first.
    pub async fn list_keys(&self, org: &OrgId) -> Result<Vec<KeyInfo>, StoreError> {
        let items = self
            .table
            .query_prefix(org_pk(org), KEY_LISTING_SK_PREFIX)
            .await?;
        items
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item::<_, ListingItem>(item)
                    .map(|listing| listing.info)
                    .map_err(StoreError::corrupt)
            })
            .collect()
    }

    /// Revokes a key of the organization. Revoking twice keeps the first time.
    pub async fn revoke_key(&self, org: &OrgId, key_id: &str) -> Result<KeyInfo, KeyError> {
        let item = self
            .table
            .get_item(org_pk(org), key_listing_sk(key_id))
            .await?
            .ok_or_else(|| KeyError::NoSuchKey(key_id.to_owned()))?;
        let mut listing: ListingItem =
            serde_dynamo::from_item(item).map_err(StoreError::corrupt)?;
        if listing.info.revoked_at.is_some() {
            return Ok(listing.info);
        }
        let revoked_at = Timestamp::now().to_rfc3339();
        let update = |pk: String,
                      sk: String,
                      expression: &str,
                      value: AttributeValue|
         -> Result<TransactWriteItem, StoreError> {
            Ok(TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table.name)
                        .key(attr::PK, AttributeValue::S(pk))
                        .key(attr::SK, AttributeValue::S(sk))
                        .update_expression(expression)
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":v", value)
                        .build()
                        .map_err(StoreError::failed)?,
                )
                .build())
        };
        let transaction = self
            .transaction()
            .transact_items(update(
                key_lookup_pk(&listing.key_hash),
                KEY_LOOKUP_SK.into(),
                "SET revoked = :v",
                AttributeValue::Bool(true),
            )?)
            .transact_items(update(
                listing.pk.clone(),
                listing.sk.clone(),
                "SET revokedAt = :v",
                AttributeValue::S(revoked_at.clone()),
            )?);
        self.commit(transaction).await?;
        listing.info.revoked_at = Some(revoked_at);
        Ok(listing.info)
    }
}

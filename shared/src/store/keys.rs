//! API key records.
//!
//! Each key has two items, written and revoked together in one transaction:
//! - the look-up item `pk = APIKEY#<sha256>`, `sk = APIKEY`: the organization
//!   and whether the key is revoked; one `GetItem` authenticates a request;
//! - the listing item `pk = ORG#<org>`, `sk = KEY#<key id>`: id, label,
//!   creation and revocation time, so an organization's keys list with one
//!   `Query` and no index.
//!
//! Neither holds the key itself.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::item::{org_pk, Item};
use super::schema::attr;
use super::{StoreError, Table};
use crate::domain::api_key::{KeyHash, NewApiKey};
use crate::domain::model::{OrgId, Timestamp};

const LOOKUP_PK_PREFIX: &str = "APIKEY#";
const LOOKUP_SK: &str = "APIKEY";
const LISTING_SK_PREFIX: &str = "KEY#";

/// A key as an organization's key list shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// The key's id (not the key).
    pub key_id: String,
    /// What the key is for, as given when it was made.
    pub label: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LookupItem {
    pk: String,
    sk: String,
    org_id: OrgId,
    key_id: String,
    revoked: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListingItem {
    pk: String,
    sk: String,
    key_hash: String,
    #[serde(flatten)]
    info: KeyInfo,
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

/// The API keys of every organization, in the clients' table.
#[derive(Clone, Debug)]
pub struct KeyStore {
    table: Table,
}

/// The look-up item's partition key of a key hash (or of any text, for
/// [`KeyStore::warm_up`]).
fn lookup_pk(hash: &str) -> String {
    format!("{LOOKUP_PK_PREFIX}{hash}")
}

impl KeyStore {
    /// The keys stored in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Opens the DynamoDB connection (credentials, endpoint, DNS, TCP, TLS)
    /// with one `GetItem` of a look-up item no key can have (its hash is not
    /// hex), reading nothing. Every function may `GetItem` look-up items (each
    /// authenticates), so this needs no extra permission.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        self.table
            .client
            .get_item()
            .table_name(&self.table.name)
            .key(attr::PK, AttributeValue::S(lookup_pk("warm-up")))
            .key(attr::SK, AttributeValue::S(LOOKUP_SK.into()))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await?;
        Ok(())
    }

    /// The organization of an active key; `None` for an unknown or revoked one.
    pub async fn active_key_org(&self, hash: &KeyHash) -> Result<Option<OrgId>, StoreError> {
        let Some(item) = self
            .table
            .get_item(lookup_pk(hash.as_str()), LOOKUP_SK.into())
            .await?
        else {
            return Ok(None);
        };
        let lookup: LookupItem = serde_dynamo::from_item(item).map_err(StoreError::corrupt)?;
        Ok((!lookup.revoked).then_some(lookup.org_id))
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
            pk: lookup_pk(key.hash.as_str()),
            sk: LOOKUP_SK.into(),
            org_id: org.clone(),
            key_id: key_id.clone(),
            revoked: false,
        };
        let listing = ListingItem {
            pk: org_pk(org),
            sk: format!("{LISTING_SK_PREFIX}{key_id}"),
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
        self.table
            .client
            .transact_write_items()
            .transact_items(put(
                serde_dynamo::to_item(lookup).map_err(StoreError::corrupt)?
            )?)
            .transact_items(put(
                serde_dynamo::to_item(listing).map_err(StoreError::corrupt)?
            )?)
            .send()
            .await
            .map_err(StoreError::from)?;
        Ok((key, info))
    }

    /// The organization's keys, oldest first.
    pub async fn list_keys(&self, org: &OrgId) -> Result<Vec<KeyInfo>, StoreError> {
        let items = self
            .table
            .query_prefix(org_pk(org), LISTING_SK_PREFIX)
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
            .get_item(org_pk(org), format!("{LISTING_SK_PREFIX}{key_id}"))
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
        self.table
            .client
            .transact_write_items()
            .transact_items(update(
                lookup_pk(&listing.key_hash),
                LOOKUP_SK.into(),
                "SET revoked = :v",
                AttributeValue::Bool(true),
            )?)
            .transact_items(update(
                listing.pk.clone(),
                listing.sk.clone(),
                "SET revokedAt = :v",
                AttributeValue::S(revoked_at.clone()),
            )?)
            .send()
            .await
            .map_err(StoreError::from)?;
        listing.info.revoked_at = Some(revoked_at);
        Ok(listing.info)
    }
}

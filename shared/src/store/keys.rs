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
use super::{dynamo_error, item_error, Table};
use crate::auth::{KeyHash, NewApiKey};
use crate::error::ApiError;
use crate::model::{OrgId, Timestamp};

const LOOKUP_PK_PREFIX: &str = "APIKEY#";
const LOOKUP_SK: &str = "APIKEY";
const LISTING_SK_PREFIX: &str = "KEY#";

/// A key as an organization's key list shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub key_id: String,
    pub label: String,
    pub created_at: String,
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

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no key {0} in this organization")]
    NoSuchKey(String),
    #[error(transparent)]
    Store(#[from] ApiError),
    #[error("could not generate a random key: {0}")]
    Random(getrandom::Error),
}

#[derive(Clone, Debug)]
pub struct KeyStore {
    table: Table,
}

fn lookup_pk(hash: &KeyHash) -> String {
    format!("{LOOKUP_PK_PREFIX}{}", hash.as_str())
}

impl KeyStore {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The organization of an active key; `None` for an unknown or revoked one.
    pub async fn active_key_org(&self, hash: &KeyHash) -> Result<Option<OrgId>, ApiError> {
        let Some(item) = self
            .table
            .get_item(lookup_pk(hash), LOOKUP_SK.into())
            .await?
        else {
            return Ok(None);
        };
        let lookup: LookupItem = serde_dynamo::from_item(item).map_err(item_error)?;
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
            pk: lookup_pk(&key.hash),
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
        let put = |item: Item| -> Result<TransactWriteItem, ApiError> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table.name)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(ApiError::internal)?,
                )
                .build())
        };
        self.table
            .client
            .transact_write_items()
            .transact_items(put(serde_dynamo::to_item(lookup).map_err(item_error)?)?)
            .transact_items(put(serde_dynamo::to_item(listing).map_err(item_error)?)?)
            .send()
            .await
            .map_err(dynamo_error)?;
        Ok((key, info))
    }

    /// The organization's keys, oldest first.
    pub async fn list_keys(&self, org: &OrgId) -> Result<Vec<KeyInfo>, ApiError> {
        let mut keys = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(org_pk(org)))
                .expression_attribute_values(":prefix", AttributeValue::S(LISTING_SK_PREFIX.into()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(dynamo_error)?;
            for item in output.items.unwrap_or_default() {
                let listing: ListingItem = serde_dynamo::from_item(item).map_err(item_error)?;
                keys.push(listing.info);
            }
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(keys);
            }
        }
    }

    /// Revokes a key of the organization. Revoking twice keeps the first time.
    pub async fn revoke_key(&self, org: &OrgId, key_id: &str) -> Result<KeyInfo, KeyError> {
        let item = self
            .table
            .get_item(org_pk(org), format!("{LISTING_SK_PREFIX}{key_id}"))
            .await?
            .ok_or_else(|| KeyError::NoSuchKey(key_id.to_owned()))?;
        let mut listing: ListingItem = serde_dynamo::from_item(item).map_err(item_error)?;
        if listing.info.revoked_at.is_some() {
            return Ok(listing.info);
        }
        let revoked_at = Timestamp::now().to_rfc3339();
        let update = |pk: String,
                      sk: String,
                      expression: &str,
                      value: AttributeValue|
         -> Result<TransactWriteItem, ApiError> {
            Ok(TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table.name)
                        .key("pk", AttributeValue::S(pk))
                        .key("sk", AttributeValue::S(sk))
                        .update_expression(expression)
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":v", value)
                        .build()
                        .map_err(ApiError::internal)?,
                )
                .build())
        };
        self.table
            .client
            .transact_write_items()
            .transact_items(update(
                format!("{LOOKUP_PK_PREFIX}{}", listing.key_hash),
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
            .map_err(dynamo_error)?;
        listing.info.revoked_at = Some(revoked_at);
        Ok(listing.info)
    }
}

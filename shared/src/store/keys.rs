//! API key records, and the look-up that authenticates a request (making,
//! listing and revoking keys is [`super::admin::keys`]'s).
//!
//! Each key has two items, written and revoked together in one transaction:
//! - the look-up item `pk = APIKEY#<sha256>`, `sk = APIKEY`: the organization
//!   and whether the key is revoked; one `GetItem` authenticates a request;
//! - the listing item `pk = ORG#<org>`, `sk = KEY#<key id>`: id, label,
//!   creation and revocation time, so an organization's keys list with one
//!   `Query` and no index.
//!
//! Neither holds the key itself.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::layout::{attr, key_lookup_pk, KEY_LOOKUP_SK};
use super::table::Table;
use crate::domain::api_key::KeyHash;
use crate::domain::model::OrgId;

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

/// The item that authenticates a key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LookupItem {
    pub pk: String,
    pub sk: String,
    pub org_id: OrgId,
    pub key_id: String,
    pub revoked: bool,
}

/// The item that lists a key among its organization's.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListingItem {
    pub pk: String,
    pub sk: String,
    pub key_hash: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// The API keys of every organization, in the clients' table.
#[derive(Clone, Debug)]
pub struct KeyStore {
    pub(crate) table: Table,
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
            .key(attr::PK, AttributeValue::S(key_lookup_pk("warm-up")))
            .key(attr::SK, AttributeValue::S(KEY_LOOKUP_SK.into()))
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
            .get_item(key_lookup_pk(hash.as_str()), KEY_LOOKUP_SK.into())
            .await?
        else {
            return Ok(None);
        };
        let lookup: LookupItem = serde_dynamo::from_item(item).map_err(StoreError::corrupt)?;
        Ok((!lookup.revoked).then_some(lookup.org_id))
    }
}

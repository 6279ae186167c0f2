//! Idempotency records for `POST /clients` with an `Idempotency-Key`.
//!
//! A record `pk = ORG#<org>`, `sk = IDEM#<key>` holds the fingerprint of the
//! request that first used the key and the client it created. It is written
//! in the same transaction as the client (so both commit or neither does),
//! on condition that no live record exists; it expires after 24 hours
//! (`expiresAt`, the table's TTL attribute; an expired record that TTL has not
//! yet deleted is treated as absent).

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::item::ClientItem;
use super::layout::{attr, idempotency_sk, org_pk};
use super::table::Table;
use crate::domain::input::IdempotencyKey;
use crate::domain::model::{Client, OrgId};

/// How long a key's first answer is replayed.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyRecord {
    pk: String,
    sk: String,
    fingerprint: String,
    client: ClientItem,
    expires_at: i64,
}

/// A live record: what the key's first request was, and what it created.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstUse {
    /// The fingerprint of the first request's validated body.
    pub fingerprint: String,
    /// The client it created.
    pub client: Client,
}

fn record_sk(key: &IdempotencyKey) -> String {
    idempotency_sk(key.as_str())
}

fn now_epoch_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The live record of a key, if any (strongly consistent).
pub async fn first_use(
    table: &Table,
    org: &OrgId,
    key: &IdempotencyKey,
) -> Result<Option<FirstUse>, StoreError> {
    let Some(item) = table.get_item(org_pk(org), record_sk(key)).await? else {
        return Ok(None);
    };
    let record: IdempotencyRecord = serde_dynamo::from_item(item).map_err(StoreError::corrupt)?;
    if record.expires_at <= now_epoch_seconds() {
        return Ok(None);
    }
    Ok(Some(FirstUse {
        fingerprint: record.fingerprint,
        client: record.client.into_client(),
    }))
}

/// The transaction item that records a key's first use, unless a live record exists.
pub fn record_first_use(
    table: &Table,
    org: &OrgId,
    key: &IdempotencyKey,
    fingerprint: &str,
    client: &Client,
) -> Result<TransactWriteItem, StoreError> {
    let now = now_epoch_seconds();
    let record = IdempotencyRecord {
        pk: org_pk(org),
        sk: record_sk(key),
        fingerprint: fingerprint.to_owned(),
        client: ClientItem::new(org, client),
        expires_at: now + IDEMPOTENCY_WINDOW.as_secs() as i64,
    };
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(
            serde_dynamo::to_item(record).map_err(StoreError::corrupt)?,
        ))
        .condition_expression("attribute_not_exists(pk) OR #expiresAt <= :now")
        .expression_attribute_names("#expiresAt", attr::EXPIRES_AT)
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .build()
        .map_err(StoreError::failed)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

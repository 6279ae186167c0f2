//! Reading and writing clients, with per-organization counts kept exact.
//!
//! Every write that changes how many clients an organization has per status
//! (create, delete, a status change) commits the client and the counts item
//! in one `TransactWriteItems`. Updates and deletes are optimistic: they are
//! conditioned on the version they read, and re-read and retry (bounded, with
//! jittered backoff) when another writer got there first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::idempotency;
use super::item::{self, client_key, client_sk, org_pk};
use super::{dynamo_error, Table};
use crate::error::ApiError;
use crate::http::IfMatch;
use crate::input::{ClientPatch, IdempotencyKey, NewClient};
use crate::model::{Client, ClientId, OrgId, Status, Timestamp};

/// The sort key of an organization's counts item.
pub const COUNTS_SK: &str = "COUNTS";
/// How many times a write is attempted when it keeps losing races.
const MAX_WRITE_ATTEMPTS: u32 = 8;

/// How many clients an organization has, per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: u64,
    pub inactive: u64,
}

impl Counts {
    pub fn of(&self, status: Status) -> u64 {
        match status {
            Status::Active => self.active,
            Status::Inactive => self.inactive,
        }
    }

    pub fn total(&self) -> u64 {
        self.active + self.inactive
    }
}

/// The answer to a create: the client as created, and whether it is the
/// replay of an earlier request with the same idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub client: Client,
    pub replayed: bool,
}

#[derive(Clone, Debug)]
pub struct ClientStore {
    pub(crate) table: Table,
}

impl ClientStore {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The client with this id in this organization (strongly consistent).
    pub async fn get(&self, org: &OrgId, id: ClientId) -> Result<Option<Client>, ApiError> {
        let item = self.table.get_item(org_pk(org), client_sk(id)).await?;
        item.map(item::from_item).transpose()
    }

    /// The organization's counts (one strongly consistent `GetItem`).
    pub async fn counts(&self, org: &OrgId) -> Result<Counts, ApiError> {
        let item = self.table.get_item(org_pk(org), COUNTS_SK.into()).await?;
        let count = |name: &str| -> Result<u64, ApiError> {
            match item.as_ref().and_then(|item| item.get(name)) {
                None => Ok(0),
                Some(AttributeValue::N(n)) => {
                    n.parse::<i64>().map(|n| n.max(0) as u64).map_err(|_| {
                        ApiError::internal(format!("counts item: {name} is not a number"))
                    })
                }
                Some(_) => Err(ApiError::internal(format!(
                    "counts item: {name} is not a number"
                ))),
            }
        };
        Ok(Counts {
            active: count(Status::Active.as_str())?,
            inactive: count(Status::Inactive.as_str())?,
        })
    }

    /// Creates a client with a fresh UUID v7 id; its `createdAt` is the id's instant.
    ///
    /// With an idempotency key, the first request's answer is recorded in the
    /// same transaction; a repeat with the same body (same fingerprint)
    /// replays it and creates nothing, a different body is 409.
    pub async fn create(
        &self,
        org: &OrgId,
        new: NewClient,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<Created, ApiError> {
        let fingerprint = new.fingerprint();
        let id = ClientId::new();
        let client = Client {
            id,
            name: new.name.into_inner(),
            phone: new.phone.map(|p| p.into_inner()),
            status: new.status,
            notes: new.notes.map(|n| n.into_inner()),
            created_at: id.created_at(),
            updated_at: id.created_at(),
            version: 1,
        };
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item::to_item(org, &client)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(ApiError::internal)?;
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            self.count_change(org, &[(client.status, 1)])?,
        ];
        if let Some(key) = idempotency_key {
            if let Some(replay) = self.replay(org, key, &fingerprint).await? {
                return Ok(replay);
            }
            items.push(idempotency::record_first_use(
                &self.table,
                org,
                key,
                &fingerprint,
                &client,
            )?);
        }
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            match self.transact(items.clone()).await {
                Ok(()) => {
                    return Ok(Created {
                        client,
                        replayed: false,
                    })
                }
                Err(WriteFailure::Conflict) => backoff(attempt).await,
                // The only condition that can fail is the idempotency record's:
                // a request with the same key committed first.
                Err(WriteFailure::ConditionFailed) => match idempotency_key {
                    Some(key) => match self.replay(org, key, &fingerprint).await? {
                        Some(replay) => return Ok(replay),
                        None => backoff(attempt).await,
                    },
                    None => backoff(attempt).await,
                },
                Err(WriteFailure::Other(error)) => return Err(error),
            }
        }
        Err(ApiError::Conflict(
            "The client could not be created because of concurrent writes; retry.",
        ))
    }

    /// The recorded answer to an earlier use of the key, or 409 if that use had another body.
    async fn replay(
        &self,
        org: &OrgId,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<Created>, ApiError> {
        match idempotency::first_use(&self.table, org, key).await? {
            None => Ok(None),
            Some(first) if first.fingerprint == fingerprint => Ok(Some(Created {
                client: first.client,
                replayed: true,
            })),
            Some(_) => Err(ApiError::Conflict(
                "This Idempotency-Key was already used with a different request body.",
            )),
        }
    }

    /// Applies a patch. An empty patch, or one that changes nothing, writes
    /// nothing and returns the client as it is (`updatedAt` unchanged).
    /// With `if_match`, the write happens only while the client is at a
    /// matching version (a DynamoDB condition), else 412.
    pub async fn update(
        &self,
        org: &OrgId,
        id: ClientId,
        patch: &ClientPatch,
        if_match: Option<&IfMatch>,
    ) -> Result<Client, ApiError> {
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            let current = self.get(org, id).await?.ok_or(ApiError::NotFound)?;
            check_precondition(if_match, &current)?;
            let next = patched(&current, patch);
            if next == current {
                return Ok(current);
            }
            let put = Put::builder()
                .table_name(&self.table.name)
                .set_item(Some(item::to_item(org, &next)?))
                .condition_expression("version = :version")
                .expression_attribute_values(":version", version_value(current.version))
                .build()
                .map_err(ApiError::internal)?;
            let mut items = vec![TransactWriteItem::builder().put(put).build()];
            if next.status != current.status {
                items.push(self.count_change(org, &[(current.status, -1), (next.status, 1)])?);
            }
            match self.transact(items).await {
                Ok(()) => return Ok(next),
                Err(WriteFailure::Conflict | WriteFailure::ConditionFailed) => {
                    backoff(attempt).await
                }
                Err(WriteFailure::Other(error)) => return Err(error),
            }
        }
        Err(ApiError::Conflict(
            "The client is being changed by other requests; retry.",
        ))
    }

    /// Deletes a client; `NotFound` when there is none (also on a second
    /// delete). `if_match` as for [`Self::update`].
    pub async fn delete(
        &self,
        org: &OrgId,
        id: ClientId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), ApiError> {
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            let current = self.get(org, id).await?.ok_or(ApiError::NotFound)?;
            check_precondition(if_match, &current)?;
            let delete = Delete::builder()
                .table_name(&self.table.name)
                .set_key(Some(client_key(org, id)))
                .condition_expression("version = :version")
                .expression_attribute_values(":version", version_value(current.version))
                .build()
                .map_err(ApiError::internal)?;
            let items = vec![
                TransactWriteItem::builder().delete(delete).build(),
                self.count_change(org, &[(current.status, -1)])?,
            ];
            match self.transact(items).await {
                Ok(()) => return Ok(()),
                Err(WriteFailure::Conflict | WriteFailure::ConditionFailed) => {
                    backoff(attempt).await
                }
                Err(WriteFailure::Other(error)) => return Err(error),
            }
        }
        Err(ApiError::Conflict(
            "The client is being changed by other requests; retry.",
        ))
    }

    /// An `ADD` to the organization's counts item, one term per status.
    fn count_change(
        &self,
        org: &OrgId,
        changes: &[(Status, i64)],
    ) -> Result<TransactWriteItem, ApiError> {
        let mut update = Update::builder()
            .table_name(&self.table.name)
            .key("pk", AttributeValue::S(org_pk(org)))
            .key("sk", AttributeValue::S(COUNTS_SK.into()));
        let mut terms = Vec::new();
        for (i, (status, delta)) in changes.iter().enumerate() {
            terms.push(format!("#s{i} :d{i}"));
            update = update
                .expression_attribute_names(format!("#s{i}"), status.as_str())
                .expression_attribute_values(
                    format!(":d{i}"),
                    AttributeValue::N(delta.to_string()),
                );
        }
        let update = update
            .update_expression(format!("ADD {}", terms.join(", ")))
            .build()
            .map_err(ApiError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), WriteFailure> {
        let result = self
            .table
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let codes: Vec<&str> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .filter_map(|reason| reason.code())
                        .collect();
                    if codes.contains(&"ConditionalCheckFailed") {
                        Err(WriteFailure::ConditionFailed)
                    } else if codes.iter().any(|c| *c == "TransactionConflict") {
                        Err(WriteFailure::Conflict)
                    } else {
                        Err(WriteFailure::Other(dynamo_error(SdkError::ServiceError(
                            service,
                        ))))
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    Err(WriteFailure::Conflict)
                }
                _ => Err(WriteFailure::Other(dynamo_error(SdkError::ServiceError(
                    service,
                )))),
            },
            Err(error) => Err(WriteFailure::Other(dynamo_error(error))),
        }
    }
}

/// Why a transactional write did not commit.
enum WriteFailure {
    /// A condition (`version`, `attribute_not_exists`) did not hold.
    ConditionFailed,
    /// Another transaction touched the same items at the same time.
    Conflict,
    Other(ApiError),
}

/// 412 when the request's `If-Match` does not name the client's current version.
/// A write that then loses a race re-reads the client and so fails here.
fn check_precondition(if_match: Option<&IfMatch>, current: &Client) -> Result<(), ApiError> {
    match if_match {
        Some(condition) if !condition.matches(current.version) => Err(ApiError::PreconditionFailed),
        _ => Ok(()),
    }
}

/// The client after a patch; its version and `updatedAt` move only on a real change.
fn patched(current: &Client, patch: &ClientPatch) -> Client {
    let mut next = current.clone();
    if let Some(name) = &patch.name {
        next.name = name.as_str().to_owned();
    }
    if let Some(phone) = &patch.phone {
        next.phone = phone.as_ref().map(|p| p.as_str().to_owned());
    }
    if let Some(status) = patch.status {
        next.status = status;
    }
    if let Some(notes) = &patch.notes {
        next.notes = notes.clone().map(|n| n.into_inner());
    }
    if next != *current {
        next.version = current.version + 1;
        next.updated_at = Timestamp::now().max(current.updated_at);
    }
    next
}

fn version_value(version: u64) -> AttributeValue {
    AttributeValue::N(version.to_string())
}

/// Writes this process has retried after losing a race (a changed version or
/// a transaction conflict); reported by the tests and the benchmark.
static RETRIED_WRITES: AtomicU64 = AtomicU64::new(0);

/// How many writes this process has retried after losing a race.
pub fn retried_writes() -> u64 {
    RETRIED_WRITES.load(Ordering::Relaxed)
}

/// Sleeps before retry `attempt` (1-based): up to 20 ms after the first
/// attempt, doubling up to 320 ms, with full jitter so racing writers spread out.
async fn backoff(attempt: u32) {
    RETRIED_WRITES.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(attempt, "write lost a race; retrying");
    let cap_ms = 10u64 << attempt.min(5);
    let mut random = [0u8; 2];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from(u16::from_le_bytes(random)) % cap_ms,
        Err(_) => cap_ms / 2,
    };
    tokio::time::sleep(Duration::from_millis(jitter + 1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{ClientName, Notes};

    fn client() -> Client {
        let id = ClientId::new();
        Client {
            id,
            name: "Ann".into(),
            phone: None,
            status: Status::Active,
            notes: Some("n".into()),
            created_at: id.created_at(),
            updated_at: id.created_at(),
            version: 3,
        }
    }

    #[test]
    fn a_patch_that_changes_nothing_keeps_version_and_updated_at() {
        let current = client();
        let patch = ClientPatch {
            name: Some(ClientName::parse("Ann").unwrap()),
            notes: Some(Some(Notes::parse("n").unwrap())),
            ..ClientPatch::default()
        };

        assert_eq!(patched(&current, &patch), current);
    }

    #[test]
    fn a_real_change_bumps_the_version_and_updated_at() {
        let current = client();
        let patch = ClientPatch {
            status: Some(Status::Inactive),
            notes: Some(None),
            ..ClientPatch::default()
        };

        let next = patched(&current, &patch);

        assert_eq!(next.version, 4);
        assert_eq!(next.status, Status::Inactive);
        assert_eq!(next.notes, None);
        assert!(next.updated_at >= current.updated_at);
        assert_eq!(next.created_at, current.created_at);
    }
}

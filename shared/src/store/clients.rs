//! Reading and writing clients.
//!
//! Every write that changes how many clients an organization has per status
//! (create, delete, a status change) commits the client and the counts item
//! (see [`super::counts`]) in one `TransactWriteItems`. Updates and deletes
//! are optimistic: they are conditioned on the version they read, and
//! re-read and retry (bounded, with jittered backoff) when another writer got
//! there first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::error::WriteKind;
use super::item::{self, client_key, client_sk, org_pk};
use super::{counts, idempotency, StoreError, Table};
use crate::domain::input::{ClientPatch, IdempotencyKey, NewClient};
use crate::domain::model::{Client, ClientId, ExpectedVersion, OrgId, Timestamp};

/// How many times a write is attempted when it keeps losing races.
pub const MAX_WRITE_ATTEMPTS: u32 = 8;

/// The answer to a create: the client as created, and whether it is the
/// replay of an earlier request with the same idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The client, as created by this request or by the first one with its key.
    pub client: Client,
    /// Whether this is a replay of the key's first request.
    pub replayed: bool,
}

/// The clients of every organization, in one table.
#[derive(Clone, Debug)]
pub struct ClientStore {
    pub(crate) table: Table,
}

impl ClientStore {
    /// The clients stored in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The client with this id in this organization (strongly consistent).
    pub async fn get(&self, org: &OrgId, id: ClientId) -> Result<Option<Client>, StoreError> {
        let item = self.table.get_item(org_pk(org), client_sk(id)).await?;
        item.map(item::from_item).transpose()
    }

    /// The organization's counts (one strongly consistent `GetItem`).
    pub async fn counts(&self, org: &OrgId) -> Result<counts::Counts, StoreError> {
        counts::read(&self.table, org).await
    }

    /// Creates a client with a fresh UUID v7 id; its `createdAt` is the id's instant.
    ///
    /// With an idempotency key, the first request's answer is recorded in the
    /// same transaction; a repeat with the same body (same fingerprint)
    /// replays it and creates nothing; a different body is
    /// [`StoreError::IdempotencyKeyReused`].
    pub async fn create(
        &self,
        org: &OrgId,
        new: NewClient,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
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
            .map_err(StoreError::failed)?;
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            counts::change(&self.table, org, &[(client.status, 1)])?,
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
        Err(StoreError::Contended {
            kind: WriteKind::Create,
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    /// The recorded answer to an earlier use of the key; an error if that use had another body.
    async fn replay(
        &self,
        org: &OrgId,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<Created>, StoreError> {
        match idempotency::first_use(&self.table, org, key).await? {
            None => Ok(None),
            Some(first) if first.fingerprint == fingerprint => Ok(Some(Created {
                client: first.client,
                replayed: true,
            })),
            Some(_) => Err(StoreError::IdempotencyKeyReused),
        }
    }

    /// Applies a patch. An empty patch, or one that changes nothing, writes
    /// nothing and returns the client as it is (`updatedAt` unchanged).
    /// The write happens only while the client is at a version `expected`
    /// accepts (checked on the version read, which the write is conditioned
    /// on), else [`StoreError::VersionMismatch`].
    pub async fn update(
        &self,
        org: &OrgId,
        id: ClientId,
        patch: &ClientPatch,
        expected: &ExpectedVersion,
    ) -> Result<Client, StoreError> {
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            let current = self.get(org, id).await?.ok_or(StoreError::NotFound)?;
            check_expected(expected, &current)?;
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
                .map_err(StoreError::failed)?;
            let mut items = vec![TransactWriteItem::builder().put(put).build()];
            if next.status != current.status {
                let moved = [(current.status, -1), (next.status, 1)];
                items.push(counts::change(&self.table, org, &moved)?);
            }
            match self.transact(items).await {
                Ok(()) => return Ok(next),
                Err(WriteFailure::Conflict | WriteFailure::ConditionFailed) => {
                    backoff(attempt).await
                }
                Err(WriteFailure::Other(error)) => return Err(error),
            }
        }
        Err(StoreError::Contended {
            kind: WriteKind::Update,
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    /// Deletes a client; [`StoreError::NotFound`] when there is none (also on
    /// a second delete). `expected` as for [`Self::update`].
    pub async fn delete(
        &self,
        org: &OrgId,
        id: ClientId,
        expected: &ExpectedVersion,
    ) -> Result<(), StoreError> {
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            let current = self.get(org, id).await?.ok_or(StoreError::NotFound)?;
            check_expected(expected, &current)?;
            let delete = Delete::builder()
                .table_name(&self.table.name)
                .set_key(Some(client_key(org, id)))
                .condition_expression("version = :version")
                .expression_attribute_values(":version", version_value(current.version))
                .build()
                .map_err(StoreError::failed)?;
            let items = vec![
                TransactWriteItem::builder().delete(delete).build(),
                counts::change(&self.table, org, &[(current.status, -1)])?,
            ];
            match self.transact(items).await {
                Ok(()) => return Ok(()),
                Err(WriteFailure::Conflict | WriteFailure::ConditionFailed) => {
                    backoff(attempt).await
                }
                Err(WriteFailure::Other(error)) => return Err(error),
            }
        }
        Err(StoreError::Contended {
            kind: WriteKind::Delete,
            attempts: MAX_WRITE_ATTEMPTS,
        })
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
                    } else if codes.contains(&"TransactionConflict") {
                        Err(WriteFailure::Conflict)
                    } else {
                        Err(WriteFailure::Other(SdkError::ServiceError(service).into()))
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    Err(WriteFailure::Conflict)
                }
                _ => Err(WriteFailure::Other(SdkError::ServiceError(service).into())),
            },
            Err(error) => Err(WriteFailure::Other(error.into())),
        }
    }
}

/// Why a transactional write did not commit.
enum WriteFailure {
    /// A condition (`version`, `attribute_not_exists`) did not hold.
    ConditionFailed,
    /// Another transaction touched the same items at the same time.
    Conflict,
    /// Anything else.
    Other(StoreError),
}

/// [`StoreError::VersionMismatch`] when `expected` does not accept the
/// client's current version. A write that then loses a race re-reads the
/// client and so fails here.
fn check_expected(expected: &ExpectedVersion, current: &Client) -> Result<(), StoreError> {
    if expected.accepts(current.version) {
        Ok(())
    } else {
        Err(StoreError::VersionMismatch)
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
    use crate::domain::input::{ClientName, Notes};
    use crate::domain::model::Status;

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

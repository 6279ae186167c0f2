//! Reading and writing clients.
//!
//! Every write that changes how many clients an organization has per status
//! (create, delete, a status change) commits the client and one shard of
//! the counts (see [`super::counts`]) in one `TransactWriteItems`. Updates
//! and deletes are optimistic: they are conditioned on the version they
//! read, and re-read and retry (bounded, with jittered backoff) when another
//! writer got there first; a write that lost a transaction conflict retries
//! at once on another counts shard.
//!
//! Each write also keeps the client's search index entries
//! ([`super::search_index`]): a create puts them, and an update that changes
//! the name or phone puts the new ones, concurrently with the transaction;
//! after it commits, an update drops the entries no longer needed and a
//! delete drops them all (best effort: reads verify every candidate). If
//! the entries fail while the transaction committed, the write answers
//! "may have been applied" ([`outcome::WriteOutcome::MaybeApplied`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::error::WriteKind;
use super::item::{self, client_key, client_sk, org_pk};
use super::{counts, idempotency, outcome, search_index, StoreError, Table};
use crate::domain::input::{ClientPatch, IdempotencyKey, NewClient};
use crate::domain::model::{Client, ClientId, ExpectedVersion, OrgId, Status, Timestamp};

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
    shards: Arc<counts::ShardPicker>,
}

impl ClientStore {
    /// The clients stored in `table`, writing counts over
    /// [`counts::DEFAULT_SHARDS`] shards.
    pub fn new(table: Table) -> Self {
        Self::with_count_shards(table, counts::DEFAULT_SHARDS)
    }

    /// The clients stored in `table`, writing counts over `count_shards`
    /// shards (1 is the unsharded design: every write on one counts item).
    pub fn with_count_shards(table: Table, count_shards: u16) -> Self {
        Self {
            table,
            shards: Arc::new(counts::ShardPicker::new(count_shards)),
        }
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
    ///
    /// Fails with [`StoreError::Unavailable`] saying [`outcome::WriteOutcome::MaybeApplied`] when DynamoDB became
    /// unavailable after an attempt may have been applied (as do
    /// [`Self::update`] and [`Self::delete`]).
    pub async fn create(
        &self,
        org: &OrgId,
        new: NewClient,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let created = outcome_watched(self.try_create(org, new, idempotency_key)).await?;
        if created.replayed {
            outcome_watched(self.reindex(org, created.client.id)).await?;
        }
        Ok(created)
    }

    /// Puts the search index entries of a client as it is now: a replayed
    /// create repairs the index of a first attempt whose entries failed.
    async fn reindex(&self, org: &OrgId, id: ClientId) -> Result<(), StoreError> {
        if let Some(current) = self.get(org, id).await? {
            let entries: Vec<_> = search_index::entries(org, &current).into_iter().collect();
            search_index::put(&self.table, &entries, current.version).await?;
        }
        Ok(())
    }

    async fn try_create(
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
        let mut written = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(key) = idempotency_key {
            if let Some(replay) = self.replay(org, key, &fingerprint).await? {
                return Ok(replay);
            }
            written.push(idempotency::record_first_use(
                &self.table,
                org,
                key,
                &fingerprint,
                &client,
            )?);
        }
        let entries: Vec<_> = search_index::entries(org, &client).into_iter().collect();
        let (committed, indexed) = tokio::join!(
            self.commit_create(org, written, client, idempotency_key, &fingerprint),
            search_index::put(&self.table, &entries, 1),
        );
        match committed {
            Ok(created) if !created.replayed => {
                indexed.map_err(committed_unindexed)?;
                Ok(created)
            }
            // This create's entries name a client that was never written.
            Ok(_) | Err(StoreError::Contended { .. } | StoreError::IdempotencyKeyReused) => {
                discard_entries(&self.table, &entries).await;
                committed
            }
            Err(error) => Err(error),
        }
    }

    /// Commits a new client (and its idempotency record), retrying races.
    async fn commit_create(
        &self,
        org: &OrgId,
        written: Vec<TransactWriteItem>,
        client: Client,
        idempotency_key: Option<&IdempotencyKey>,
        fingerprint: &str,
    ) -> Result<Created, StoreError> {
        let id = client.id;
        let created = Created {
            client,
            replayed: false,
        };
        let mut throttled = None;
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            let counted = Some((org, &[(created.client.status, 1)][..]));
            match self.transact(written.clone(), counted).await {
                Ok(()) => return Ok(created),
                Err(WriteFailure::Conflict { counts_only: true }) => {
                    self.counts_conflict_pause(attempt).await
                }
                // The contested item is the client or the idempotency record:
                // a request with the same key may be committing.
                Err(WriteFailure::Conflict { counts_only: false }) => {
                    if let Some(key) = idempotency_key {
                        if let Some(replay) = self.replay(org, key, fingerprint).await? {
                            return Ok(replay);
                        }
                    }
                    backoff(attempt).await
                }
                // Either an earlier attempt of this very create committed
                // (its answer was lost: the client, with its fresh id, is
                // there), or the idempotency record's condition failed: a
                // request with the same key committed first.
                Err(WriteFailure::ConditionFailed) => {
                    if self.get(org, id).await?.as_ref() == Some(&created.client) {
                        return Ok(created);
                    }
                    if let Some(key) = idempotency_key {
                        if let Some(replay) = self.replay(org, key, fingerprint).await? {
                            return Ok(replay);
                        }
                    }
                    backoff(attempt).await
                }
                Err(WriteFailure::Throttled(error)) => {
                    throttled = Some(error);
                    backoff(attempt).await
                }
                Err(WriteFailure::Other(error)) => return Err(error),
            }
        }
        Err(exhausted(WriteKind::Create, throttled))
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
        outcome_watched(self.try_update(org, id, patch, expected)).await
    }

    async fn try_update(
        &self,
        org: &OrgId,
        id: ClientId,
        patch: &ClientPatch,
        expected: &ExpectedVersion,
    ) -> Result<Client, StoreError> {
        let mut throttled = None;
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
            let items = vec![TransactWriteItem::builder().put(put).build()];
            let moved = [(current.status, -1), (next.status, 1)];
            let counted = (next.status != current.status).then_some((org, &moved[..]));
            let (added, unneeded) = search_index::changes(org, &current, &next);
            let (committed, indexed) = tokio::join!(
                self.transact(items, counted),
                search_index::put(&self.table, &added, next.version),
            );
            match committed {
                Ok(()) => {
                    indexed.map_err(committed_unindexed)?;
                    let dropped =
                        search_index::delete_unneeded(&self.table, &unneeded, next.version).await;
                    if let Err(error) = dropped {
                        tracing::warn!(%error, "unneeded search index entries left behind");
                    }
                    return Ok(next);
                }
                Err(failure) => throttled = self.before_retry(attempt, failure).await?,
            }
        }
        Err(exhausted(WriteKind::Update, throttled))
    }

    /// Deletes a client; [`StoreError::NotFound`] when there is none (also on
    /// a second delete). `expected` as for [`Self::update`].
    pub async fn delete(
        &self,
        org: &OrgId,
        id: ClientId,
        expected: &ExpectedVersion,
    ) -> Result<(), StoreError> {
        outcome_watched(self.try_delete(org, id, expected)).await
    }

    async fn try_delete(
        &self,
        org: &OrgId,
        id: ClientId,
        expected: &ExpectedVersion,
    ) -> Result<(), StoreError> {
        let mut throttled = None;
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
            let items = vec![TransactWriteItem::builder().delete(delete).build()];
            let counted = Some((org, &[(current.status, -1)][..]));
            match self.transact(items, counted).await {
                Ok(()) => {
                    let entries: Vec<_> =
                        search_index::entries(org, &current).into_iter().collect();
                    discard_entries(&self.table, &entries).await;
                    return Ok(());
                }
                Err(failure) => throttled = self.before_retry(attempt, failure).await?,
            }
        }
        Err(exhausted(WriteKind::Delete, throttled))
    }

    /// What an update or a delete does after a failed `attempt` (it re-reads
    /// the client and tries again): waits as the failure calls for, and
    /// returns the throttling error if it was throttled (the answer if no
    /// attempt is left); any other error ends the write.
    async fn before_retry(
        &self,
        attempt: u32,
        failure: WriteFailure,
    ) -> Result<Option<StoreError>, StoreError> {
        match failure {
            WriteFailure::Conflict { counts_only: true } => {
                self.counts_conflict_pause(attempt).await
            }
            WriteFailure::Conflict { counts_only: false } | WriteFailure::ConditionFailed => {
                backoff(attempt).await
            }
            WriteFailure::Throttled(error) => {
                backoff(attempt).await;
                return Ok(Some(error));
            }
            WriteFailure::Other(error) => return Err(error),
        }
        Ok(None)
    }

    /// Waits before retrying a write that lost its counts shard to another
    /// transaction: a moment when the retry goes to another shard (the first
    /// three attempts, with more than one shard), else the full backoff, as
    /// the other transaction has to finish first.
    async fn counts_conflict_pause(&self, attempt: u32) {
        if self.shards.shards() > 1 && attempt <= 3 {
            conflict_pause(attempt).await
        } else {
            backoff(attempt).await
        }
    }

    /// Commits `items` as one transaction, with the organization's count
    /// `changes` on a shard leased for it when `counted` is given (last, so a
    /// conflict on it alone is recognised and retried at once on another).
    async fn transact(
        &self,
        mut items: Vec<TransactWriteItem>,
        counted: Option<(&OrgId, &[(Status, i64)])>,
    ) -> Result<(), WriteFailure> {
        let lease = match counted {
            Some((org, changes)) => {
                let lease = self.shards.lease();
                items.push(
                    counts::change(&self.table, org, lease.shard(), changes)
                        .map_err(WriteFailure::Other)?,
                );
                Some(lease)
            }
            None => None,
        };
        let outcome = self.send_transaction(items, lease.is_some()).await;
        if let (Some(lease), Err(WriteFailure::Conflict { counts_only: true })) = (lease, &outcome)
        {
            lease.contested();
        }
        outcome
    }

    /// Sends the transaction and sorts its failure out.
    async fn send_transaction(
        &self,
        items: Vec<TransactWriteItem>,
        counts_last: bool,
    ) -> Result<(), WriteFailure> {
        let last = items.len().saturating_sub(1);
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
                    // One reason per item, in the order of the items.
                    let codes: Vec<&str> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().unwrap_or("None"))
                        .collect();
                    let conflicted: Vec<usize> = (0..codes.len())
                        .filter(|&i| codes[i] == "TransactionConflict")
                        .collect();
                    if codes.contains(&"ConditionalCheckFailed") {
                        Err(WriteFailure::ConditionFailed)
                    } else if codes.contains(&"ThrottlingError") {
                        // The service throttles a transaction by cancelling
                        // it; nothing was written, and the SDK does not retry it.
                        Err(WriteFailure::Throttled(StoreError::unavailable(
                            SdkError::ServiceError(service),
                        )))
                    } else if !conflicted.is_empty() {
                        Err(WriteFailure::Conflict {
                            counts_only: counts_last && conflicted == [last],
                        })
                    } else {
                        Err(WriteFailure::Other(SdkError::ServiceError(service).into()))
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    Err(WriteFailure::Conflict { counts_only: false })
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
    Conflict {
        /// Whether the only item contested was the counts shard.
        counts_only: bool,
    },
    /// DynamoDB throttled it (an [`StoreError::Unavailable`]): nothing was written.
    Throttled(StoreError),
    /// Anything else.
    Other(StoreError),
}

/// The error of a write that used up its attempts: unavailable if the last
/// one was throttled, else contended.
fn exhausted(kind: WriteKind, last_throttled: Option<StoreError>) -> StoreError {
    last_throttled.unwrap_or(StoreError::Contended {
        kind,
        attempts: MAX_WRITE_ATTEMPTS,
    })
}

/// Runs a write; if it ends unavailable, says whether one of its attempts
/// may have been applied ([`outcome::watch_writes`]).
async fn outcome_watched<T>(
    write: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let (result, outcome) = outcome::watch_writes(write).await;
    result.map_err(|error| error.with_outcome(outcome))
}

/// The error of a write whose client committed but whose search index
/// entries could not be written: answered as "outcome unknown", so that the
/// caller repeats it (a create with its `Idempotency-Key`, whose replay
/// writes the entries again); `clients-admin backfill-search` also repairs it.
fn committed_unindexed(error: StoreError) -> StoreError {
    StoreError::maybe_applied(error)
}

/// Deletes search index entries no client needs, best effort: a leftover
/// costs a read in later searches, never a wrong result (reads verify).
async fn discard_entries(table: &Table, entries: &[search_index::Entry]) {
    if let Err(error) = search_index::delete(table, entries).await {
        tracing::warn!(%error, "search index entries of a missing client left behind");
    }
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

/// Sleeps before retry `attempt` (1-based) after a changed version: up to
/// 20 ms after the first attempt, doubling up to 320 ms, with full jitter so
/// racing writers spread out.
async fn backoff(attempt: u32) {
    RETRIED_WRITES.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(attempt, "write lost a race; retrying");
    sleep_jittered(10u64 << attempt.min(5)).await;
}

/// Sleeps before retry `attempt` after a transaction conflict. The retry
/// picks another counts shard, so it need not wait for the other
/// transaction: a short pause (up to 2 ms, doubling to 16 ms if conflicts
/// persist, jittered) only keeps retries from arriving in lockstep.
async fn conflict_pause(attempt: u32) {
    RETRIED_WRITES.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(
        attempt,
        "write lost a transaction conflict; retrying on another shard"
    );
    sleep_jittered(1u64 << attempt.min(4)).await;
}

/// Sleeps 1 ms plus a random part of `cap_ms`.
async fn sleep_jittered(cap_ms: u64) {
    let mut random = [0u8; 2];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from(u16::from_le_bytes(random)) % cap_ms.max(1),
        Err(_) => cap_ms / 2,
    };
    tokio::time::sleep(Duration::from_millis(jitter + 1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::input::{ClientName, Notes};

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

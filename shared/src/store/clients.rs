//! Reading and writing clients: get, create, update, delete.
//!
//! Every write commits through [`super::write`] (one transaction, one retry
//! policy), which also writes the client's order items ([`super::order`]). Updates and deletes are optimistic: they are conditioned on the
//! version they read, and re-read and retry when another writer got there
//! first. A create has a fresh id, so its only races are on a counts shard
//! or with its own earlier attempt; it recognises its own committed attempt
//! by its item.
//!
//! Each write also keeps the client's search index entries
//! ([`super::search_index`]): a create puts them, and an update that changes
//! the name or phone puts the new ones, concurrently with the transaction;
//! after it commits, an update drops the entries no longer needed and a
//! delete drops them all (best effort: reads verify every candidate). If
//! the entries fail while the transaction committed, the write answers
//! "may have been applied" ([`outcome::WriteOutcome::MaybeApplied`]), so
//! that the caller repeats it. Entries are discarded only for a create that
//! can never commit (its idempotency key names another request's client):
//! a create that ended unavailable may still commit, and its entries must
//! then be there.
//!
//! A write that retries after an attempt whose answer was lost tells that
//! attempt's effect from another writer's: an update whose re-read finds
//! exactly the client it wrote, and a delete that finds the client gone,
//! after such an attempt, succeed.

use std::sync::Arc;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::counts;
use super::error::StoreError;
use super::idempotency;
use super::item::{self, client_key};
use super::layout::{client_sk, org_pk};
use super::listing::{self, ListPage};
use super::order;
use super::outcome::{self, WriteOutcome};
use super::search_index;
use super::table::Table;
use super::write::{self, Failure, WriteDeadline, WriteKind};
use crate::domain::input::{ClientPatch, IdempotencyKey, NewClient};
use crate::domain::list_query::ListQuery;
use crate::domain::model::{Client, ClientId, ExpectedVersion, OrgId, Timestamp};
use crate::domain::position::Position;

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
    table: Table,
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

    /// A page of the organization's clients, sorted, filtered or searched
    /// ([`listing::page`]). `after` (a decoded cursor) resumes after an
    /// earlier page, in place of `query.offset`.
    pub async fn list(
        &self,
        org: &OrgId,
        query: &ListQuery,
        after: Option<&Position>,
    ) -> Result<ListPage, StoreError> {
        listing::page(&self.table, org, query, after).await
    }

    /// The organization's counts (one strongly consistent `Query` of its shards).
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
    /// Fails with [`StoreError::Unavailable`] when DynamoDB is unavailable or
    /// the write kept losing races; its [`WriteOutcome`] says whether an
    /// attempt may have been applied (as for [`Self::update`] and
    /// [`Self::delete`]).
    pub async fn create(
        &self,
        org: &OrgId,
        new: NewClient,
        idempotency_key: Option<&IdempotencyKey>,
        deadline: WriteDeadline,
    ) -> Result<Created, StoreError> {
        watched(self.try_create(org, new, idempotency_key, deadline)).await
    }

    async fn try_create(
        &self,
        org: &OrgId,
        new: NewClient,
        idempotency_key: Option<&IdempotencyKey>,
        deadline: WriteDeadline,
    ) -> Result<Created, StoreError> {
        let fingerprint = new.fingerprint();
        if let Some(key) = idempotency_key {
            if let Some(replay) = self.replay(org, key, &fingerprint).await? {
                self.reindex(org, replay.client.id).await?;
                return Ok(replay);
            }
        }
        let id = ClientId::new();
        let client = new.into_client(id);
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item::to_item(org, &client)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::failed)?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        items.extend(order::puts(&self.table, org, &client)?);
        if let Some(key) = idempotency_key {
            items.push(idempotency::record_first_use(
                &self.table,
                org,
                key,
                &fingerprint,
                &client,
            )?);
        }
        let entries: Vec<_> = search_index::entries(org, &client).into_iter().collect();
        let own = Created {
            client,
            replayed: false,
        };
        let attempts = write::retrying(WriteKind::Create, &self.shards, deadline, |_| {
            self.attempt_create(
                org,
                items.clone(),
                &own,
                idempotency_key,
                &fingerprint,
                deadline,
            )
        });
        let (committed, indexed) =
            tokio::join!(attempts, search_index::put(&self.table, &entries, 1));
        match committed {
            Ok(created) if created.client.id == id => {
                indexed.map_err(committed_unindexed)?;
                Ok(Created {
                    replayed: false,
                    ..created
                })
            }
            // The key's record names another request's client: this
            // create's transaction (which puts that record) can never
            // commit, and its entries name a client that will never exist.
            Ok(replay) => {
                discard_entries(&self.table, &entries).await;
                self.reindex(org, replay.client.id).await?;
                Ok(replay)
            }
            Err(StoreError::IdempotencyKeyReused) => {
                discard_entries(&self.table, &entries).await;
                Err(StoreError::IdempotencyKeyReused)
            }
            Err(error) => Err(error),
        }
    }

    /// One attempt at committing a new client (and its idempotency record).
    /// A failed condition or a conflict on the client's own items means an
    /// earlier attempt of this very create committed (its answer was lost:
    /// the client, with its fresh id, is there) or is still being applied,
    /// or that a request with the same key got there first.
    async fn attempt_create(
        &self,
        org: &OrgId,
        items: Vec<TransactWriteItem>,
        own: &Created,
        idempotency_key: Option<&IdempotencyKey>,
        fingerprint: &str,
        deadline: WriteDeadline,
    ) -> Result<Created, Failure> {
        let counted = Some((org, &[(own.client.status, 1)][..]));
        let failure =
            match write::transact(&self.table, &self.shards, items, counted, deadline).await {
                Ok(()) => return Ok(own.clone()),
                Err(failure) => failure,
            };
        if matches!(
            failure,
            Failure::ConditionFailed | Failure::Conflict { counts_only: false }
        ) {
            if self.get(org, own.client.id).await?.as_ref() == Some(&own.client) {
                return Ok(own.clone());
            }
            if let Some(key) = idempotency_key {
                if let Some(replay) = self.replay(org, key, fingerprint).await? {
                    return Ok(replay);
                }
            }
        }
        Err(failure)
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
        deadline: WriteDeadline,
    ) -> Result<Client, StoreError> {
        let written = Mutex::new(None);
        watched(write::retrying(
            WriteKind::Update,
            &self.shards,
            deadline,
            |_| self.attempt_update(org, id, patch, expected, &written, deadline),
        ))
        .await
    }

    /// One attempt at an update: re-reads the client, and writes the patched
    /// client conditioned on the version read. `written` is the client an
    /// earlier attempt tried to write: finding exactly it means that attempt
    /// committed although its answer said otherwise or was lost.
    async fn attempt_update(
        &self,
        org: &OrgId,
        id: ClientId,
        patch: &ClientPatch,
        expected: &ExpectedVersion,
        written: &Mutex<Option<Client>>,
        deadline: WriteDeadline,
    ) -> Result<Client, Failure> {
        let current = self.get(org, id).await?.ok_or(StoreError::NotFound)?;
        let earlier = written.lock().unwrap_or_else(|e| e.into_inner()).take();
        if earlier.as_ref() == Some(&current) {
            return Ok(current);
        }
        check_expected(expected, &current)?;
        let next = patch.apply(&current, Timestamp::now());
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
        items.extend(order::changes(&self.table, org, &current, &next)?);
        let moved = [(current.status, -1), (next.status, 1)];
        let counted = (next.status != current.status).then_some((org, &moved[..]));
        let (added, unneeded) = search_index::changes(org, &current, &next);
        let (committed, indexed) = tokio::join!(
            write::transact(&self.table, &self.shards, items, counted, deadline),
            search_index::put(&self.table, &added, next.version),
        );
        if let Err(failure) = committed {
            *written.lock().unwrap_or_else(|e| e.into_inner()) = Some(next);
            return Err(failure);
        }
        indexed.map_err(committed_unindexed)?;
        let dropped = search_index::delete_unneeded(&self.table, &unneeded, next.version).await;
        if let Err(error) = dropped {
            tracing::warn!(%error, "unneeded search index entries left behind");
        }
        Ok(next)
    }

    /// Deletes a client; [`StoreError::NotFound`] when there is none (also on
    /// a second delete). `expected` as for [`Self::update`].
    pub async fn delete(
        &self,
        org: &OrgId,
        id: ClientId,
        expected: &ExpectedVersion,
        deadline: WriteDeadline,
    ) -> Result<(), StoreError> {
        let tried = Mutex::new(None);
        watched(write::retrying(
            WriteKind::Delete,
            &self.shards,
            deadline,
            |_| self.attempt_delete(org, id, expected, &tried, deadline),
        ))
        .await
    }

    /// One attempt at a delete, conditioned on the version read. `tried` is
    /// the client an earlier attempt tried to delete: if it is gone and an
    /// attempt's answer was lost, that attempt deleted it.
    async fn attempt_delete(
        &self,
        org: &OrgId,
        id: ClientId,
        expected: &ExpectedVersion,
        tried: &Mutex<Option<Client>>,
        deadline: WriteDeadline,
    ) -> Result<(), Failure> {
        let Some(current) = self.get(org, id).await? else {
            let earlier = tried.lock().unwrap_or_else(|e| e.into_inner()).take();
            return match earlier {
                Some(deleted) if outcome::so_far() == WriteOutcome::MaybeApplied => {
                    self.discard_entries_of(org, &deleted).await;
                    Ok(())
                }
                _ => Err(StoreError::NotFound.into()),
            };
        };
        check_expected(expected, &current)?;
        let delete = Delete::builder()
            .table_name(&self.table.name)
            .set_key(Some(client_key(org, id)))
            .condition_expression("version = :version")
            .expression_attribute_values(":version", version_value(current.version))
            .build()
            .map_err(StoreError::failed)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        items.extend(order::deletes(&self.table, org, &current)?);
        let counted = Some((org, &[(current.status, -1)][..]));
        match write::transact(&self.table, &self.shards, items, counted, deadline).await {
            Ok(()) => {
                self.discard_entries_of(org, &current).await;
                Ok(())
            }
            Err(failure) => {
                *tried.lock().unwrap_or_else(|e| e.into_inner()) = Some(current);
                Err(failure)
            }
        }
    }

    /// Drops every search index entry of a deleted client (best effort).
    async fn discard_entries_of(&self, org: &OrgId, deleted: &Client) {
        let entries: Vec<_> = search_index::entries(org, deleted).into_iter().collect();
        discard_entries(&self.table, &entries).await;
    }
}

/// Runs a write; if it ends unavailable, says whether one of its attempts
/// may have been applied ([`outcome::watch_writes`]).
async fn watched<T>(
    write: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let (result, outcome) = outcome::watch_writes(write).await;
    result.map_err(|error| error.with_outcome(outcome))
}

/// The error of a write whose client committed but whose search index
/// entries could not be written: answered as "may have been applied", so
/// that the caller repeats it (a create with its `Idempotency-Key`, whose
/// replay writes the entries again); `clients-admin backfill-search` also
/// repairs it.
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

fn version_value(version: u64) -> AttributeValue {
    AttributeValue::N(version.to_string())
}

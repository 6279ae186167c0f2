//! How many clients an organization has per status, kept exact in sharded
//! counts items, so that a list's `total` costs one call however large the
//! organization, and concurrent writers of one organization do not all
//! contend on one item.
//!
//! The counts are spread over shard items in the organization's partition:
//! `pk = ORG#<org>`, `sk = COUNTS` (shard 0, the one counts item of data
//! written before sharding, read as it is) and `sk = COUNTS#<nnn>` (shards
//! 1 and up), each with signed `active` and `inactive` numbers. Every write
//! that changes a count adds its [`change`] of one shard to the same
//! transaction as the client, so the sum over the shards is always exact.
//! Which shard: a [`ShardPicker`] per process leases one per write, never
//! one another write of the same process holds, and prefers the shard it
//! used last without a conflict; a write that loses a race on its shard
//! retries on another. A Lambda container serves one request at a time, so
//! each keeps writing its own shard, and containers that picked the same
//! one move apart after their first conflict. [`read`] sums every shard with one strongly
//! consistent `Query` (`begins_with(sk, "COUNTS")`), whatever the number of
//! shards writers used: the shard count can change at any time.

use std::collections::HashSet;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::error::StoreError;
use super::layout::{attr, org_pk, shard_sk, CLIENT_SK_PREFIX, COUNTS_SK};
use super::table::Table;
use crate::domain::model::{OrgId, Status};

/// Shards writers spread over unless configured (`COUNT_SHARDS`): enough
/// that 64 concurrent writers into one organization rarely pick a shard
/// another one holds, few enough that reading them all stays one `Query`
/// of a few KB (each shard item is under 100 bytes). See
/// `docs/data-model.md` for the measurements behind the figure.
pub const DEFAULT_SHARDS: u16 = 128;

/// The most shards a writer may use: a read of them all stays well under
/// one 1 MB page.
pub const MAX_SHARDS: u16 = 1000;

/// Leases counts shards to one process's writes (see the module header).
#[derive(Debug)]
pub struct ShardPicker {
    shards: u16,
    state: Mutex<PickerState>,
}

#[derive(Debug, Default)]
struct PickerState {
    /// Shards used without a conflict, most recently released last.
    preferred: Vec<u16>,
    /// Shards leased to writes in flight.
    in_use: HashSet<u16>,
}

/// How many uncontested shards a picker remembers.
const PREFERRED_CAPACITY: usize = 64;

impl ShardPicker {
    /// A picker over `shards` shards (clamped to 1–[`MAX_SHARDS`]).
    pub fn new(shards: u16) -> Self {
        Self {
            shards: shards.clamp(1, MAX_SHARDS),
            state: Mutex::default(),
        }
    }

    /// How many shards it picks among.
    pub fn shards(&self) -> u16 {
        self.shards
    }

    /// A shard for one write: the most recently released uncontested one
    /// not in use, else a random one not in use (any, if all are).
    pub fn lease(&self) -> ShardLease<'_> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut preferred = None;
        while let Some(shard) = state.preferred.pop() {
            if !state.in_use.contains(&shard) {
                preferred = Some(shard);
                break;
            }
        }
        let shard = preferred.unwrap_or_else(|| {
            let free = usize::from(self.shards) > state.in_use.len();
            let mut shard = pick_shard(self.shards);
            while free && state.in_use.contains(&shard) {
                shard = pick_shard(self.shards);
            }
            shard
        });
        state.in_use.insert(shard);
        ShardLease {
            picker: self,
            shard,
            contested: false,
        }
    }

    fn release(&self, shard: u16, contested: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.in_use.remove(&shard);
        state.preferred.retain(|kept| *kept != shard);
        if !contested {
            state.preferred.push(shard);
            if state.preferred.len() > PREFERRED_CAPACITY {
                state.preferred.remove(0);
            }
        }
    }
}

/// One write's shard, given back to its picker when dropped.
#[derive(Debug)]
pub struct ShardLease<'a> {
    picker: &'a ShardPicker,
    shard: u16,
    contested: bool,
}

impl ShardLease<'_> {
    /// The shard.
    pub fn shard(&self) -> u16 {
        self.shard
    }

    /// Gives the shard back as one another writer holds: not to be preferred.
    pub fn contested(mut self) {
        self.contested = true;
    }
}

impl Drop for ShardLease<'_> {
    fn drop(&mut self) {
        self.picker.release(self.shard, self.contested);
    }
}

/// A shard chosen uniformly at random among `shards` (at least one).
pub fn pick_shard(shards: u16) -> u16 {
    let mut random = [0u8; 2];
    match getrandom::fill(&mut random) {
        Ok(()) => u16::from_le_bytes(random) % shards.max(1),
        Err(_) => 0,
    }
}

/// How many clients an organization has, per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Clients with status `active`.
    pub active: u64,
    /// Clients with status `inactive`.
    pub inactive: u64,
}

impl Counts {
    /// The count of one status.
    pub fn of(&self, status: Status) -> u64 {
        match status {
            Status::Active => self.active,
            Status::Inactive => self.inactive,
        }
    }

    /// Every client.
    pub fn total(&self) -> u64 {
        self.active + self.inactive
    }
}

/// The organization's counts: every shard summed, from one strongly
/// consistent `Query` of its counts items (more only past 1 MB, which
/// [`MAX_SHARDS`] rules out).
pub async fn read(table: &Table, org: &OrgId) -> Result<Counts, StoreError> {
    let shards = table.query_prefix(org_pk(org), COUNTS_SK).await?;
    let (mut active, mut inactive) = (0i64, 0i64);
    for shard in &shards {
        active += signed_count(shard, Status::Active)?;
        inactive += signed_count(shard, Status::Inactive)?;
    }
    Ok(Counts {
        active: active.max(0) as u64,
        inactive: inactive.max(0) as u64,
    })
}

/// One shard's count of a status: signed, since a client counted in one
/// shard may be uncounted in another.
fn signed_count(shard: &super::item::Item, status: Status) -> Result<i64, StoreError> {
    let name = status.as_str();
    match shard.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(n)) => n
            .parse::<i64>()
            .map_err(|_| StoreError::corrupt(format!("counts item: {name} is not a number"))),
        Some(_) => Err(StoreError::corrupt(format!(
            "counts item: {name} is not a number"
        ))),
    }
}

/// Counts the organization's client items themselves, per status (strongly
/// consistent queries of its whole partition): O(clients), for checks and
/// repairs, never on a request's path.
pub async fn recount(table: &Table, org: &OrgId) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    for item in table.query_prefix(org_pk(org), CLIENT_SK_PREFIX).await? {
        let status = match item.get(attr::STATUS) {
            Some(AttributeValue::S(text)) => Status::parse(text),
            _ => None,
        };
        match status {
            Some(Status::Active) => counts.active += 1,
            Some(Status::Inactive) => counts.inactive += 1,
            None => return Err(StoreError::corrupt("client item without a status")),
        }
    }
    Ok(counts)
}

/// The `ADD` to one shard of the organization's counts, one term per
/// status and delta.
fn update(
    table: &Table,
    org: &OrgId,
    shard: u16,
    changes: &[(Status, i64)],
) -> Result<Update, StoreError> {
    let mut update = Update::builder()
        .table_name(&table.name)
        .key(attr::PK, AttributeValue::S(org_pk(org)))
        .key(attr::SK, AttributeValue::S(shard_sk(shard)));
    let mut terms = Vec::new();
    for (i, (status, delta)) in changes.iter().enumerate() {
        terms.push(format!("#s{i} :d{i}"));
        update = update
            .expression_attribute_names(format!("#s{i}"), status.as_str())
            .expression_attribute_values(format!(":d{i}"), AttributeValue::N(delta.to_string()));
    }
    update
        .update_expression(format!("ADD {}", terms.join(", ")))
        .build()
        .map_err(StoreError::failed)
}

/// The transaction item that applies `changes` to one shard of the
/// organization's counts.
pub fn change(
    table: &Table,
    org: &OrgId,
    shard: u16,
    changes: &[(Status, i64)],
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .update(update(table, org, shard, changes)?)
        .build())
}

/// Applies `changes` to shard 0 on its own (one `UpdateItem`), for bulk
/// imports that write clients outside transactions.
pub async fn add(table: &Table, org: &OrgId, changes: &[(Status, i64)]) -> Result<(), StoreError> {
    let update = update(table, org, 0, changes)?;
    table
        .client
        .update_item()
        .table_name(update.table_name())
        .set_key(Some(update.key().clone()))
        .update_expression(update.update_expression())
        .set_expression_attribute_names(update.expression_attribute_names().cloned())
        .set_expression_attribute_values(update.expression_attribute_values().cloned())
        .send()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_zero_is_the_unsharded_counts_item_and_every_shard_shares_its_prefix() {
        assert_eq!(shard_sk(0), "COUNTS");
        assert_eq!(shard_sk(7), "COUNTS#007");
        assert_eq!(shard_sk(999), "COUNTS#999");
        assert!((0..MAX_SHARDS).all(|shard| shard_sk(shard).starts_with(COUNTS_SK)));
    }

    #[test]
    fn a_picker_reuses_its_last_uncontested_shard_and_leaves_a_contested_one() {
        let picker = ShardPicker::new(128);

        let first = picker.lease().shard();
        let again = picker.lease().shard();
        let contested = picker.lease();
        let lost = contested.shard();
        contested.contested();
        let after = picker.lease().shard();

        assert_eq!(first, again, "a released shard is leased again");
        assert_eq!(lost, first);
        assert_ne!(after, lost, "a contested shard is not preferred");
    }

    #[test]
    fn concurrent_leases_of_one_picker_never_share_a_shard() {
        let picker = ShardPicker::new(64);

        let leases: Vec<ShardLease<'_>> = (0..64).map(|_| picker.lease()).collect();

        let distinct: std::collections::BTreeSet<u16> =
            leases.iter().map(ShardLease::shard).collect();
        assert_eq!(distinct.len(), 64);
        assert!(
            picker.lease().shard() < 64,
            "past every shard, any is leased"
        );
    }

    #[test]
    fn picked_shards_stay_in_range_and_spread() {
        let picks: std::collections::BTreeSet<u16> = (0..2_000).map(|_| pick_shard(16)).collect();

        assert!(picks.iter().all(|shard| *shard < 16));
        assert_eq!(picks.len(), 16, "2,000 picks cover every one of 16 shards");
        assert_eq!(pick_shard(1), 0);
        assert_eq!(pick_shard(0), 0);
    }
}

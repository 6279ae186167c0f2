//! The per-organization counts item, `pk = ORG#<org>`, `sk = COUNTS`: how
//! many clients an organization has per status, so a list's `total` is one
//! `GetItem`. Every write that changes a count adds its [`change`] to the
//! same transaction as the client, so the counts are always exact.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::item::{org_pk, CLIENT_SK_PREFIX};
use super::schema::attr;
use super::{StoreError, Table};
use crate::domain::model::{OrgId, Status};

/// The sort key of an organization's counts item.
pub const COUNTS_SK: &str = "COUNTS";

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

/// The organization's counts (one strongly consistent `GetItem`).
pub async fn read(table: &Table, org: &OrgId) -> Result<Counts, StoreError> {
    let item = table.get_item(org_pk(org), COUNTS_SK.into()).await?;
    let count = |name: &str| -> Result<u64, StoreError> {
        match item.as_ref().and_then(|item| item.get(name)) {
            None => Ok(0),
            Some(AttributeValue::N(n)) => n
                .parse::<i64>()
                .map(|n| n.max(0) as u64)
                .map_err(|_| StoreError::corrupt(format!("counts item: {name} is not a number"))),
            Some(_) => Err(StoreError::corrupt(format!(
                "counts item: {name} is not a number"
            ))),
        }
    };
    Ok(Counts {
        active: count(Status::Active.as_str())?,
        inactive: count(Status::Inactive.as_str())?,
    })
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

/// The `ADD` to the organization's counts, one term per status and delta.
fn update(table: &Table, org: &OrgId, changes: &[(Status, i64)]) -> Result<Update, StoreError> {
    let mut update = Update::builder()
        .table_name(&table.name)
        .key(attr::PK, AttributeValue::S(org_pk(org)))
        .key(attr::SK, AttributeValue::S(COUNTS_SK.into()));
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

/// The transaction item that applies `changes` to the organization's counts.
pub fn change(
    table: &Table,
    org: &OrgId,
    changes: &[(Status, i64)],
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .update(update(table, org, changes)?)
        .build())
}

/// Applies `changes` on its own (one `UpdateItem`), for bulk imports that
/// write clients outside transactions.
pub async fn add(table: &Table, org: &OrgId, changes: &[(Status, i64)]) -> Result<(), StoreError> {
    let update = update(table, org, changes)?;
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

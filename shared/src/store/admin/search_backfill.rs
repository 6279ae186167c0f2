//! Backfill of the search index and of the order items: writes them for
//! clients stored before they existed (or whose search entries a failed
//! write left missing).
//!
//! It pages through an organization's client items in `sk` order (strongly
//! consistent `Query`, [`PAGE_CLIENTS`] a page) and puts every client's
//! search entries ([`search_index::put`], with the client's version) and
//! its order items ([`order::backfill`]: one transaction per client,
//! conditioned on the version read, [`ORDER_WRITES_IN_FLIGHT`] at once; a
//! client written meanwhile has written its own). Both are idempotent, so
//! it can be run again, or resumed after the last client of a finished page
//! ([`Progress::last`]). It only adds search entries: leftovers are
//! harmless to search, which verifies every candidate.

use futures::stream::{self, StreamExt, TryStreamExt};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::model::{ClientId, OrgId};
use crate::store::error::StoreError;
use crate::store::item::{self, client_key};
use crate::store::layout::{attr, org_pk, CLIENT_SK_PREFIX, COUNTS_SK};
use crate::store::order;
use crate::store::search_index;
use crate::store::table::{PagePart, Table};

/// Clients read and indexed per page.
const PAGE_CLIENTS: i32 = 100;
/// Order item transactions of one page in flight at once.
const ORDER_WRITES_IN_FLIGHT: usize = 8;

/// How far a backfill has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Clients indexed so far.
    pub clients: u64,
    /// Index entries put so far.
    pub entries: u64,
    /// The last client indexed: resume after it (`--from`).
    pub last: Option<ClientId>,
}

/// Writes the search index entries of every client of `org` whose id sorts
/// after `from` (all of them without it), calling `report` after each page.
pub async fn backfill(
    table: &Table,
    org: &OrgId,
    from: Option<ClientId>,
    mut report: impl FnMut(&Progress),
) -> Result<Progress, StoreError> {
    let mut progress = Progress {
        last: from,
        ..Progress::default()
    };
    let mut start_key = from.map(|id| client_key(org, id));
    loop {
        let output = table
            .prefix_page(
                &org_pk(org),
                CLIENT_SK_PREFIX,
                start_key.take(),
                PagePart::AtMost(PAGE_CLIENTS),
            )
            .await?;
        let mut requests = Vec::new();
        let mut clients = Vec::new();
        for entry in output.items.unwrap_or_default() {
            let client = item::from_item(entry)?;
            for index_entry in search_index::entries(org, &client) {
                requests.push(index_entry.put_request(client.version)?);
            }
            clients.push(client);
        }
        progress.entries += requests.len() as u64;
        search_index::write_all(table, requests).await?;
        stream::iter(
            clients
                .iter()
                .map(|client| order::backfill(table, org, client)),
        )
        .buffer_unordered(ORDER_WRITES_IN_FLIGHT)
        .try_collect::<Vec<bool>>()
        .await?;
        progress.clients += clients.len() as u64;
        progress.last = clients.last().map(|client| client.id).or(progress.last);
        report(&progress);
        match output.last_evaluated_key {
            Some(key) => start_key = Some(key),
            None => return Ok(progress),
        }
    }
}

/// Every organization with a counts item: one `Scan` of the whole table
/// (filtered to counts items, keys only), for `backfill-search --all`.
pub async fn organizations(table: &Table) -> Result<Vec<OrgId>, StoreError> {
    let mut orgs = std::collections::BTreeSet::new();
    let mut start_key = None;
    loop {
        let output = table
            .client
            .scan()
            .table_name(&table.name)
            .filter_expression("begins_with(#sk, :counts) AND begins_with(#pk, :org)")
            .projection_expression("#pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":counts", AttributeValue::S(COUNTS_SK.into()))
            .expression_attribute_values(":org", AttributeValue::S("ORG#".into()))
            .set_exclusive_start_key(start_key)
            .send()
            .await?;
        for entry in output.items.unwrap_or_default() {
            if let Some(AttributeValue::S(pk)) = entry.get(attr::PK) {
                let org = pk
                    .strip_prefix("ORG#")
                    .and_then(|id| id.parse::<OrgId>().ok())
                    .ok_or_else(|| StoreError::corrupt(format!("counts item in {pk}")))?;
                orgs.insert(org.to_string());
            }
        }
        start_key = output.last_evaluated_key;
        if start_key.is_none() {
            break;
        }
    }
    orgs.into_iter()
        .map(|org| org.parse().map_err(StoreError::corrupt))
        .collect()
}

//! List pages: sorted, filtered by status, searched, paged by offset or cursor.
//!
//! Without a search, a page walks a keys-only index in the requested order,
//! skipping `offset` entries and keeping `limit`, then fetches those clients
//! with one `BatchGetItem` and keeps those that still have the entry the
//! (eventually consistent) index showed, refilling the page past the others;
//! `total` comes from the counts shards. With a
//! search, the search index ([`super::search_index`]) gives the candidate
//! clients, whose current items are read (strongly consistent, only the
//! fields that verify and sort them) and checked with the exact matching
//! rule; the matches are sorted in memory and the page is fetched the same
//! way. See `docs/data-model.md` for costs.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::counts;
use super::error::StoreError;
use super::item::{self, client_key, Item};
use super::layout::{
    self, attr, client_sk, id_from_sk, org_pk, status_pk, IndexDefinition, BY_CREATED, BY_NAME,
    BY_PHONE, BY_STATUS_CREATED, BY_STATUS_NAME, BY_STATUS_PHONE,
};
use super::search_index;
use super::table::{before_batch_round, Table};
use crate::domain::list_query::{ListQuery, SortField, SortOrder};
use crate::domain::model::{Client, ClientId, OrgId, Status};
use crate::domain::position::Position;
use crate::domain::search::{SearchTerm, SEARCHABLE_FIELDS};

/// Keys per `BatchGetItem`, DynamoDB's maximum.
const BATCH_GET_SIZE: usize = 100;
/// The most index walks one list page makes: the first, and refills after
/// entries the index still held for clients that have changed or gone (a
/// few at most, and only for writes of the last moment).
const MAX_INDEX_WALKS: usize = 4;
/// `BatchGetItem` calls of one request in flight at once.
const BATCH_GETS_IN_FLIGHT: usize = 8;
/// What search reads of each candidate client to verify and sort it: its
/// sort key, phone and status (to sort), the folded name (to sort by name),
/// and the normalized value of every searchable field (to verify).
fn search_fields() -> Vec<&'static str> {
    let mut fields = vec![attr::SK, attr::NAME_FOLD, attr::PHONE, attr::STATUS];
    for field in &SEARCHABLE_FIELDS {
        if !fields.contains(&field.stored_as) {
            fields.push(field.stored_as);
        }
    }
    fields
}

/// One page of a list. What reading it cost is counted by
/// [`super::usage::measure`] around the call, like any other request's.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The page's clients, in order.
    pub clients: Vec<Client>,
    /// How many clients the list has in all (matches, for a search).
    pub total: u64,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Position>,
}

/// One ordered run of index entries: an index, one partition, one direction.
#[derive(Debug, Clone)]
struct IndexRun {
    index: IndexDefinition,
    partition: String,
    ascending: bool,
}

impl IndexRun {
    /// Whether `client`, as it is now, still has the index entry the run
    /// read for it: the same partition (its status, for a status index) and
    /// sort key. The keys are computed by the one item layout ([`item::to_item`]).
    fn still_holds(
        &self,
        org: &OrgId,
        client: &Client,
        sort_key: &str,
    ) -> Result<bool, StoreError> {
        let item = item::to_item(org, client)?;
        let has = |name: &str, value: &str| matches!(item.get(name), Some(AttributeValue::S(text)) if text == value);
        Ok(has(self.index.partition_key, &self.partition) && has(self.index.sort_key, sort_key))
    }

    /// The `ExclusiveStartKey` that resumes this run right after `position`.
    fn start_after(&self, org: &OrgId, position: &Position) -> Item {
        HashMap::from([
            (attr::PK.to_owned(), AttributeValue::S(org_pk(org))),
            (
                attr::SK.to_owned(),
                AttributeValue::S(client_sk(position.id)),
            ),
            (
                self.index.partition_key.to_owned(),
                AttributeValue::S(self.partition.clone()),
            ),
            (
                self.index.sort_key.to_owned(),
                AttributeValue::S(position.sort_key.clone()),
            ),
        ])
    }
}

/// A page of the organization's clients in `table`. `after` (a decoded
/// cursor) resumes after an earlier page, in place of `query.offset`.
pub async fn page(
    table: &Table,
    org: &OrgId,
    query: &ListQuery,
    after: Option<&Position>,
) -> Result<ListPage, StoreError> {
    let listing = Listing { table };
    match &query.search {
        None => listing.list_by_index(org, query, after).await,
        Some(term) => listing.search(org, query, term, after).await,
    }
}

/// The reads of one list request.
struct Listing<'a> {
    table: &'a Table,
}

impl Listing<'_> {
    /// A page walked from an index, each entry checked against the client
    /// as it is now: the indexes are eventually consistent (a write reaches
    /// them a moment after it commits), so an entry may name a client that
    /// is gone, or one whose status or sort field has changed since. Such
    /// entries are passed over and the page is refilled from further along
    /// the index, so that a page never holds a client outside its filter or
    /// out of its order, and is short only at the end of the list.
    async fn list_by_index(
        &self,
        org: &OrgId,
        query: &ListQuery,
        after: Option<&Position>,
    ) -> Result<ListPage, StoreError> {
        let counts = counts::read(self.table, org).await?;
        let total = match query.status.single() {
            Some(status) => counts.of(status),
            None => counts.total(),
        };
        let mut page = ListPage {
            clients: Vec::new(),
            total,
            next: None,
        };
        if after.is_none() && query.offset >= total {
            return Ok(page);
        }
        let runs = index_runs(org, query);
        let take = query.limit as usize;
        let mut resume = after.cloned();
        let mut skip = query.offset;
        for _ in 0..MAX_INDEX_WALKS {
            let wanted = take - page.clients.len();
            let (entries, more) = self
                .walk_runs(org, &runs, resume.as_ref(), skip, wanted)
                .await?;
            skip = 0;
            let ids: Vec<ClientId> = entries.iter().map(|entry| entry.id).collect();
            let mut current: HashMap<ClientId, Client> = self
                .fetch_in_order(org, &ids)
                .await?
                .into_iter()
                .map(|client| (client.id, client))
                .collect();
            for entry in &entries {
                let Some(client) = current.remove(&entry.id) else {
                    continue; // deleted since the index saw it
                };
                if runs[entry.run].still_holds(org, &client, &entry.sort_key)? {
                    page.clients.push(client);
                }
            }
            resume = entries.last().cloned();
            page.next = resume.clone().filter(|_| more);
            if !more || page.clients.len() == take {
                break;
            }
        }
        Ok(page)
    }

    /// Reads the runs in turn from `after` (or the start), skipping `skip`
    /// entries and keeping the next `take`; also reports whether any entry
    /// follows them (it reads one entry more to know).
    async fn walk_runs(
        &self,
        org: &OrgId,
        runs: &[IndexRun],
        after: Option<&Position>,
        mut skip: u64,
        take: usize,
    ) -> Result<(Vec<Position>, bool), StoreError> {
        let mut entries = Vec::with_capacity(take + 1);
        let first_run = after.map_or(0, |position| position.run);
        for (run_index, run) in runs.iter().enumerate().skip(first_run) {
            let mut start_key = after
                .filter(|_| run_index == first_run)
                .map(|position| run.start_after(org, position));
            loop {
                let wanted = skip + (take + 1 - entries.len()) as u64;
                let output = self
                    .table
                    .client
                    .query()
                    .table_name(&self.table.name)
                    .index_name(run.index.name)
                    .key_condition_expression("#p = :p")
                    .expression_attribute_names("#p", run.index.partition_key)
                    .expression_attribute_names("#sk", attr::SK)
                    .expression_attribute_names("#sort", run.index.sort_key)
                    .expression_attribute_values(":p", AttributeValue::S(run.partition.clone()))
                    .projection_expression("#sk, #sort")
                    .scan_index_forward(run.ascending)
                    .limit(wanted.min(i32::MAX as u64) as i32)
                    .set_exclusive_start_key(start_key.take())
                    .send()
                    .await?;
                for entry in output.items.unwrap_or_default() {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    entries.push(Position {
                        run: run_index,
                        sort_key: text(&entry, run.index.sort_key).ok_or_else(|| {
                            StoreError::corrupt("index entry without its sort key")
                        })?,
                        id: sk_id(&entry)?,
                    });
                    if entries.len() > take {
                        entries.pop();
                        return Ok((entries, true));
                    }
                }
                match output.last_evaluated_key {
                    Some(key) => start_key = Some(key),
                    None => break,
                }
            }
        }
        Ok((entries, false))
    }

    /// A search: the candidates from the search index, each verified
    /// against its current client item (the exact rule and the status
    /// filter), sorted, counted and paged in memory; then the page's clients.
    async fn search(
        &self,
        org: &OrgId,
        query: &ListQuery,
        term: &SearchTerm,
        after: Option<&Position>,
    ) -> Result<ListPage, StoreError> {
        let candidates = search_index::candidates(self.table, org, term).await?;
        let mut hits = Vec::new();
        for entry in self.fetch(org, &candidates, Some(&search_fields())).await? {
            let hit = SearchHit::from_item(&entry)?;
            let status_kept = query.status.single().is_none_or(|s| s == hit.status);
            if status_kept && term.matches(&hit.searchable) {
                hits.push(hit.position(query.sort_by));
            }
        }
        let ascending = query.sort_order == SortOrder::Asc;
        hits.sort_by(|a, b| {
            if ascending {
                a.sort_key.cmp(&b.sort_key)
            } else {
                b.sort_key.cmp(&a.sort_key)
            }
        });
        let total = hits.len() as u64;
        let start = match after {
            // Resume after the cursor's key, even if that client has since changed or gone.
            Some(position) => hits.partition_point(|hit| {
                if ascending {
                    hit.sort_key <= position.sort_key
                } else {
                    hit.sort_key >= position.sort_key
                }
            }),
            None => usize::try_from(query.offset)
                .unwrap_or(usize::MAX)
                .min(hits.len()),
        };
        let end = (start + query.limit as usize).min(hits.len());
        let page = &hits[start..end];
        let ids: Vec<ClientId> = page.iter().map(|hit| hit.id).collect();
        let clients = self.fetch_in_order(org, &ids).await?;
        let next = page.last().filter(|_| end < hits.len()).cloned();
        Ok(ListPage {
            clients,
            total,
            next,
        })
    }

    /// Fetches clients by id with `BatchGetItem` (strongly consistent), in the
    /// order given. A client deleted since its id was read is left out.
    async fn fetch_in_order(
        &self,
        org: &OrgId,
        ids: &[ClientId],
    ) -> Result<Vec<Client>, StoreError> {
        let mut found: HashMap<ClientId, Client> = HashMap::with_capacity(ids.len());
        for entry in self.fetch(org, ids, None).await? {
            let client = item::from_item(entry)?;
            found.insert(client.id, client);
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// The items of these clients (only `fields`, if given), read strongly
    /// consistent with `BatchGetItem`s of 100 keys, [`BATCH_GETS_IN_FLIGHT`]
    /// at once, in no particular order; clients that do not exist are left out.
    async fn fetch(
        &self,
        org: &OrgId,
        ids: &[ClientId],
        fields: Option<&[&str]>,
    ) -> Result<Vec<Item>, StoreError> {
        let batches: Vec<_> = ids
            .chunks(BATCH_GET_SIZE)
            .map(|chunk| self.fetch_batch(org, chunk, fields))
            .collect();
        let results: Vec<Vec<Item>> = stream::iter(batches)
            .buffer_unordered(BATCH_GETS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// One `BatchGetItem` of at most 100 clients, unprocessed keys asked again.
    async fn fetch_batch(
        &self,
        org: &OrgId,
        ids: &[ClientId],
        fields: Option<&[&str]>,
    ) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Item> = ids.iter().map(|id| client_key(org, *id)).collect();
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true);
        if let Some(fields) = fields {
            let names: Vec<String> = (0..fields.len()).map(|i| format!("#f{i}")).collect();
            request = request.projection_expression(names.join(", "));
            for (name, field) in names.into_iter().zip(fields) {
                request = request.expression_attribute_names(name, *field);
            }
        }
        let mut pending = Some(request.build().map_err(StoreError::failed)?);
        let (mut items, mut rounds) = (Vec::with_capacity(ids.len()), 0);
        while let Some(request) = pending.take() {
            rounds += 1;
            before_batch_round(rounds, "BatchGetItem").await?;
            let output = self
                .table
                .client
                .batch_get_item()
                .request_items(&self.table.name, request)
                .send()
                .await?;
            items.extend(
                output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table.name)
                    .unwrap_or_default(),
            );
            pending = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table.name))
                .filter(|rest| !rest.keys().is_empty());
        }
        Ok(items)
    }
}

/// The index runs that list an organization's clients in the requested order.
fn index_runs(org: &OrgId, query: &ListQuery) -> Vec<IndexRun> {
    let ascending = query.sort_order == SortOrder::Asc;
    let run = |index, partition| IndexRun {
        index,
        partition,
        ascending,
    };
    match (query.sort_by, query.status.single()) {
        (SortField::CreatedAt, None) => vec![run(BY_CREATED, org_pk(org))],
        (SortField::Name, None) => vec![run(BY_NAME, org_pk(org))],
        (SortField::Phone, None) => vec![run(BY_PHONE, org_pk(org))],
        // By status, then id: each status's partition in id order, one after the other.
        (SortField::Status, None) => {
            let mut statuses = Status::ALL.to_vec();
            if !ascending {
                statuses.reverse();
            }
            statuses
                .into_iter()
                .map(|status| run(BY_STATUS_CREATED, status_pk(org, status)))
                .collect()
        }
        (SortField::CreatedAt | SortField::Status, Some(status)) => {
            vec![run(BY_STATUS_CREATED, status_pk(org, status))]
        }
        (SortField::Name, Some(status)) => vec![run(BY_STATUS_NAME, status_pk(org, status))],
        (SortField::Phone, Some(status)) => vec![run(BY_STATUS_PHONE, status_pk(org, status))],
    }
}

fn sk_id(entry: &Item) -> Result<ClientId, StoreError> {
    match entry.get(attr::SK) {
        Some(AttributeValue::S(sk)) => id_from_sk(sk),
        _ => None,
    }
    .ok_or_else(|| StoreError::corrupt("index entry without a client sort key"))
}

/// What search reads of a candidate client: enough to verify and sort it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SearchHit {
    id: ClientId,
    name_fold: String,
    phone: Option<String>,
    status: Status,
    /// The normalized value of each searchable field, in the order of [`SEARCHABLE_FIELDS`].
    searchable: Vec<Option<String>>,
}

impl SearchHit {
    fn from_item(entry: &Item) -> Result<Self, StoreError> {
        let broken = || StoreError::corrupt("client item is missing a search attribute");
        Ok(Self {
            id: sk_id(entry)?,
            name_fold: text(entry, attr::NAME_FOLD).ok_or_else(broken)?,
            phone: text(entry, attr::PHONE),
            searchable: SEARCHABLE_FIELDS
                .iter()
                .map(|field| text(entry, field.stored_as))
                .collect(),
            status: text(entry, attr::STATUS)
                .as_deref()
                .and_then(Status::parse)
                .ok_or_else(broken)?,
        })
    }

    /// The hit with the sort key the matching index would give it, so that
    /// search results sort (and resume from a cursor) exactly like index walks.
    fn position(self, field: SortField) -> Position {
        let sort_key = match field {
            SortField::Name => layout::name_sort_key(&self.name_fold, self.id),
            SortField::Phone => layout::phone_sort_key(self.phone.as_deref(), self.id),
            SortField::Status => layout::status_sort_key(self.status, self.id),
            SortField::CreatedAt => self.id.to_string(),
        };
        Position {
            run: 0,
            sort_key,
            id: self.id,
        }
    }
}

fn text(entry: &Item, name: &str) -> Option<String> {
    match entry.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::list_query::StatusFilter;

    fn hit(name: &str, phone: Option<&str>, status: Status) -> SearchHit {
        SearchHit {
            id: ClientId::new(),
            name_fold: name.into(),
            phone: phone.map(Into::into),
            status,
            searchable: Vec::new(),
        }
    }

    #[test]
    fn search_keys_order_by_field_then_id_with_missing_phones_last() {
        let hits = [
            hit("bob", None, Status::Active),
            hit("ann", Some("555"), Status::Inactive),
            hit("ann", Some("123"), Status::Active),
            hit("carl", Some("123"), Status::Inactive),
        ];
        let order = |field| {
            let mut keyed: Vec<Position> =
                hits.iter().cloned().map(|h| h.position(field)).collect();
            keyed.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
            keyed.into_iter().map(|p| p.id).collect::<Vec<_>>()
        };

        assert_eq!(
            order(SortField::Name),
            [hits[1].id, hits[2].id, hits[0].id, hits[3].id]
        );
        assert_eq!(
            order(SortField::Phone),
            [hits[2].id, hits[3].id, hits[1].id, hits[0].id]
        );
        assert_eq!(
            order(SortField::Status),
            [hits[0].id, hits[2].id, hits[1].id, hits[3].id]
        );
    }

    #[test]
    fn status_sort_without_filter_reads_each_status_partition_in_turn() {
        let org: OrgId = "acme".parse().unwrap();
        let query = ListQuery {
            sort_by: SortField::Status,
            sort_order: SortOrder::Desc,
            ..ListQuery::default()
        };

        let runs = index_runs(&org, &query);

        let partitions: Vec<_> = runs.iter().map(|r| r.partition.as_str()).collect();
        assert_eq!(
            partitions,
            ["ORG#acme#STATUS#inactive", "ORG#acme#STATUS#active"]
        );
        assert!(runs
            .iter()
            .all(|r| !r.ascending && r.index == BY_STATUS_CREATED));
    }

    #[test]
    fn a_single_status_filter_uses_the_status_partitioned_index() {
        let org: OrgId = "acme".parse().unwrap();
        let query = ListQuery {
            sort_by: SortField::Name,
            status: StatusFilter::only(Status::Active),
            ..ListQuery::default()
        };

        let runs = index_runs(&org, &query);

        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].index, BY_STATUS_NAME);
        assert_eq!(runs[0].partition, "ORG#acme#STATUS#active");
    }
}

//! List pages: sorted, filtered by status, searched, paged by offset or cursor.
//!
//! Without a search, a page is one walk of the requested order's items
//! ([`super::order`], strongly consistent, written in each client's
//! transaction): `offset` items skipped, `limit` kept and one more read to
//! know whether a page follows; `total` comes from the counts shards.
//!
//! A search is planned from what the search index shows
//! ([`super::search_index`]), with its count bounded
//! ([`MATCH_COUNT_LIMIT`]):
//! - **selective**: the query's index entries, read up to
//!   [`PROBE_ENTRIES`], end there: every candidate is read (strongly
//!   consistent) and checked with the exact rule, and the matches are
//!   sorted, counted and paged in memory;
//! - **broad** (more entries than that): the requested order is walked and
//!   each client checked, until the page and the bounded count are known
//!   (the first `MATCH_COUNT_LIMIT` + 1 matches, or the end). After
//!   [`WALK_SAMPLE`] clients the walk estimates what finishing would cost
//!   from the matches it found; if reading every match through the search
//!   index would cost less, the search is done that way (selective, with
//!   every entry).
//!
//! A page is the same page either way: the same matching rule, order and
//! ties, and cursors that resume in the order's own terms (a run and a sort
//! key, [`super::order::Run`]). See `docs/data-model.md` for costs.

use std::cmp::Ordering;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::counts;
use super::error::StoreError;
use super::item::{self, client_key, Item};
use super::order::{self, Ordered, Run, Walk};
use super::search_index;
use super::table::{before_batch_round, Table};
use crate::domain::list_query::{ListQuery, SortOrder, TotalRelation, MATCH_COUNT_LIMIT};
use crate::domain::model::{Client, ClientId, OrgId};
use crate::domain::position::Position;
use crate::domain::search::SearchTerm;

/// Keys per `BatchGetItem`, DynamoDB's maximum.
const BATCH_GET_SIZE: usize = 100;
/// `BatchGetItem` calls of one request in flight at once.
const BATCH_GETS_IN_FLIGHT: usize = 8;
/// Search index entries a search reads before it decides how to search:
/// if the query's entries end within these, it is selective.
pub const PROBE_ENTRIES: usize = 800;
/// Clients a broad search walks before it weighs finishing the walk
/// against reading every match through the search index.
pub const WALK_SAMPLE: usize = 200;
/// The most order items one `Query` of a walk asks for.
const WALK_CHUNK_MAX: usize = 2_000;

/// One page of a list. What reading it cost is counted by
/// [`super::usage::measure`] around the call, like any other request's.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The page's clients, in order.
    pub clients: Vec<Client>,
    /// How many clients the list has in all (matches, for a search, counted
    /// up to [`MATCH_COUNT_LIMIT`]).
    pub total: u64,
    /// Whether `total` is exact or a lower bound.
    pub total_relation: TotalRelation,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Position>,
}

/// A page of the organization's clients in `table`. `after` (a decoded
/// cursor) resumes after an earlier page, in place of `query.offset`.
pub async fn page(
    table: &Table,
    org: &OrgId,
    query: &ListQuery,
    after: Option<&Position>,
) -> Result<ListPage, StoreError> {
    let listing = Listing {
        table,
        org,
        query,
        runs: order::runs(org, query),
    };
    match &query.search {
        None => listing.list(after).await,
        Some(term) => listing.search(term, after).await,
    }
}

/// The reads of one list request.
struct Listing<'a> {
    table: &'a Table,
    org: &'a OrgId,
    query: &'a ListQuery,
    runs: Vec<Run>,
}

/// Where a broad search's walk stands.
struct Walked {
    /// The matches kept for the page (and the one after it).
    kept: Vec<Ordered>,
    /// Matches seen.
    matches: u64,
    /// Whether the walk reached the end of the order.
    ended: bool,
}

impl Listing<'_> {
    fn ascending(&self) -> bool {
        self.query.sort_order == SortOrder::Asc
    }

    fn limit(&self) -> usize {
        self.query.limit as usize
    }

    /// A page walked from the order items, from the start or after `after`.
    async fn list(&self, after: Option<&Position>) -> Result<ListPage, StoreError> {
        let counts = counts::read(self.table, self.org).await?;
        let total = match self.query.status.single() {
            Some(status) => counts.of(status),
            None => counts.total(),
        };
        let mut kept = Vec::new();
        if after.is_some() || self.query.offset < total {
            let mut walk = Walk::new(self.table, self.runs.clone(), after);
            let mut skip = if after.is_some() {
                0
            } else {
                self.query.offset
            };
            let wanted = self.limit() + 1;
            loop {
                let ask = (skip as usize)
                    .saturating_add(wanted - kept.len())
                    .min(WALK_CHUNK_MAX);
                let chunk = walk.next(ask).await?;
                if chunk.is_empty() {
                    break;
                }
                for entry in chunk {
                    if skip > 0 {
                        skip -= 1;
                    } else if kept.len() < wanted {
                        kept.push(entry);
                    }
                }
                if kept.len() == wanted {
                    break;
                }
            }
        }
        self.finish(kept, total, TotalRelation::Eq).await
    }

    /// The page of `kept` (the page's entries and, if there is one, the
    /// next entry): notes too long to be copied read from the client items.
    async fn finish(
        &self,
        mut kept: Vec<Ordered>,
        total: u64,
        total_relation: TotalRelation,
    ) -> Result<ListPage, StoreError> {
        let more = kept.len() > self.limit();
        kept.truncate(self.limit());
        let next = kept
            .last()
            .filter(|_| more)
            .map(|entry| entry.position.clone());
        let elsewhere: Vec<ClientId> = kept
            .iter()
            .filter(|entry| entry.notes_elsewhere)
            .map(|entry| entry.client.id)
            .collect();
        let mut whole: HashMap<ClientId, Client> = if elsewhere.is_empty() {
            HashMap::new()
        } else {
            self.fetch_clients(&elsewhere)
                .await?
                .into_iter()
                .map(|client| (client.id, client))
                .collect()
        };
        let clients = kept
            .into_iter()
            .filter_map(|entry| {
                if entry.notes_elsewhere {
                    // Read in the same moment as the order item, unless
                    // deleted in between (then it is left out).
                    whole.remove(&entry.client.id)
                } else {
                    Some(entry.client)
                }
            })
            .collect();
        Ok(ListPage {
            clients,
            total,
            total_relation,
            next,
        })
    }

    /// A search, planned (module header): selective if the query's index
    /// entries end within [`PROBE_ENTRIES`], else broad.
    async fn search(
        &self,
        term: &SearchTerm,
        after: Option<&Position>,
    ) -> Result<ListPage, StoreError> {
        let probe =
            search_index::candidates(self.table, self.org, term, Some(PROBE_ENTRIES)).await?;
        if probe.complete {
            return self.search_candidates(term, after, &probe.ids).await;
        }
        if let Some(page) = self.search_by_walking(term, after).await? {
            return Ok(page);
        }
        let every = search_index::candidates(self.table, self.org, term, None).await?;
        self.search_candidates(term, after, &every.ids).await
    }

    /// A selective search: the candidates read and checked, the matches
    /// sorted as the order sorts them, counted and paged.
    async fn search_candidates(
        &self,
        term: &SearchTerm,
        after: Option<&Position>,
        candidates: &[ClientId],
    ) -> Result<ListPage, StoreError> {
        let status = self.query.status.single();
        let mut hits: Vec<Ordered> = self
            .fetch_clients(candidates)
            .await?
            .into_iter()
            .filter(|client| {
                status.is_none_or(|s| s == client.status) && term.matches_client(client)
            })
            .filter_map(|client| order::ordered_in(&self.runs, self.org, client))
            .collect();
        hits.sort_by(|a, b| self.compare(&a.position, &b.position));
        let (total, relation) = TotalRelation::of_matches(hits.len() as u64);
        let start = match after {
            // Resume after the cursor's key, even if that client has since changed or gone.
            Some(position) => hits
                .partition_point(|hit| self.compare(&hit.position, position) != Ordering::Greater),
            None => usize::try_from(self.query.offset)
                .unwrap_or(usize::MAX)
                .min(hits.len()),
        };
        let end = (start + self.limit() + 1).min(hits.len());
        let kept = hits.drain(start..end).collect();
        self.finish(kept, total, relation).await
    }

    /// The order of positions in this list's runs.
    fn compare(&self, a: &Position, b: &Position) -> Ordering {
        let within = if self.ascending() {
            a.sort_key.cmp(&b.sort_key)
        } else {
            b.sort_key.cmp(&a.sort_key)
        };
        a.run.cmp(&b.run).then(within)
    }

    /// A broad search: the order walked and each client checked, until the
    /// page and the bounded count are known. `None` if, past the sample,
    /// finishing a walk would read more than every match through the index.
    async fn search_by_walking(
        &self,
        term: &SearchTerm,
        after: Option<&Position>,
    ) -> Result<Option<ListPage>, StoreError> {
        let count_needed = MATCH_COUNT_LIMIT + 1;
        let limit = self.limit() as u64;
        let (page_from, page_needed) = match after {
            None => (
                self.query.offset,
                self.query.offset.saturating_add(limit + 1),
            ),
            Some(_) => (0, limit + 1),
        };
        // From the start: the count, and (without a cursor) the page too.
        let first_needed = match after {
            None => count_needed.max(page_needed),
            Some(_) => count_needed,
        };
        let keep_from = after.is_none().then_some(page_from);
        let Some(counted) = self.walk(term, None, first_needed, keep_from).await? else {
            return Ok(None);
        };
        let (total, relation) = TotalRelation::of_matches(counted.matches);
        let kept = match after {
            None => counted.kept,
            Some(position) => match self
                .walk(term, Some(position), page_needed, Some(0))
                .await?
            {
                Some(page) => page.kept,
                None => return Ok(None),
            },
        };
        Ok(Some(self.finish(kept, total, relation).await?))
    }

    /// Walks the order from the start (or after `after`) until `needed`
    /// matches are seen or it ends, keeping the matches numbered from
    /// `keep_from` (0-based) on. `None` when it gave up (module header).
    async fn walk(
        &self,
        term: &SearchTerm,
        after: Option<&Position>,
        needed: u64,
        keep_from: Option<u64>,
    ) -> Result<Option<Walked>, StoreError> {
        let mut walk = Walk::new(self.table, self.runs.clone(), after);
        let mut walked = Walked {
            kept: Vec::new(),
            matches: 0,
            ended: false,
        };
        let (mut read, mut organization_size) = (0usize, None);
        let mut ask = WALK_SAMPLE;
        while walked.matches < needed {
            let chunk = walk.next(ask).await?;
            if chunk.is_empty() {
                walked.ended = true;
                break;
            }
            read += chunk.len();
            for entry in chunk {
                if walked.matches < needed && term.matches_client(&entry.client) {
                    if keep_from.is_some_and(|from| walked.matches >= from) {
                        walked.kept.push(entry);
                    }
                    walked.matches += 1;
                }
            }
            if walked.matches >= needed {
                break;
            }
            // What finishing the walk would still read, at the density seen.
            let missing = (needed - walked.matches) as f64;
            let density = walked.matches as f64 / read as f64;
            let to_finish = if density > 0.0 {
                missing / density
            } else {
                f64::INFINITY
            };
            if organization_size.is_none() {
                let counts = counts::read(self.table, self.org).await?;
                organization_size = Some(match self.query.status.single() {
                    Some(status) => counts.of(status),
                    None => counts.total(),
                });
            }
            // Reading every match through the index: about one entry and
            // one client item per match.
            let through_index = 2.0 * density * organization_size.unwrap_or(0) as f64;
            if to_finish > through_index {
                return Ok(None);
            }
            ask = (to_finish.ceil() as usize)
                .saturating_add(10)
                .clamp(1, WALK_CHUNK_MAX);
        }
        Ok(Some(walked))
    }

    /// The clients with these ids (strongly consistent `BatchGetItem`s), in
    /// no particular order; a client that does not exist is left out.
    async fn fetch_clients(&self, ids: &[ClientId]) -> Result<Vec<Client>, StoreError> {
        self.fetch(ids)
            .await?
            .into_iter()
            .map(item::from_item)
            .collect()
    }

    /// The items of these clients, read strongly consistent with
    /// `BatchGetItem`s of 100 keys, [`BATCH_GETS_IN_FLIGHT`] at once, in no
    /// particular order; clients that do not exist are left out.
    async fn fetch(&self, ids: &[ClientId]) -> Result<Vec<Item>, StoreError> {
        let batches: Vec<_> = ids
            .chunks(BATCH_GET_SIZE)
            .map(|chunk| self.fetch_batch(chunk))
            .collect();
        let results: Vec<Vec<Item>> = stream::iter(batches)
            .buffer_unordered(BATCH_GETS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// One `BatchGetItem` of at most 100 clients, unprocessed keys asked again.
    async fn fetch_batch(&self, ids: &[ClientId]) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Item> = ids.iter().map(|id| client_key(self.org, *id)).collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true);
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

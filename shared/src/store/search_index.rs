//! The search index: one small item per suffix of a client's folded name
//! and per suffix of its phone's digits, in the base table, so that a
//! substring search is one `begins_with` `Query` on a sort key.
//!
//! | item | `pk` | `sk` | other |
//! |---|---|---|---|
//! | name suffix | `ORG#<org>#NAME#<first char of the suffix>` | `<suffix, first 24 chars>\x01<id>` | `version` |
//! | phone suffix | `ORG#<org>#PHONE#<first digit of the suffix>` | `<digits suffix, first 24>\x01<id>` | `version` |
//!
//! A query goes to exactly one partition per part (name, and phone digits
//! for a phone query) and reads the entries whose sort key begins with the
//! query (its first [`KEY_CHARS`] characters): a superset of the matching
//! clients, since an entry may be stale (a renamed or deleted client, a
//! failed write's leftover) or the query longer than the key. The reader
//! therefore verifies every candidate against its current client item
//! (`store::listing`): the index only has to have no false negatives.
//!
//! `version` is the client's version the entry was written for: deleting
//! the entries a rename no longer needs is conditioned on it, so a late
//! delete never removes an entry a newer write of the same suffix put back.
//! Suffixes starting with whitespace are not indexed: a query is trimmed,
//! so it never starts with one. See `docs/data-model.md` ("Search index").

use std::collections::{BTreeSet, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::error::StoreError;
use super::layout::{attr, search_partition};
use super::table::{PagePart, Table};
use crate::domain::model::{Client, ClientId, OrgId};
use crate::domain::search::{searchable_values, SearchTerm, SearchableField, SEARCHABLE_FIELDS};

/// Characters of a suffix kept in an entry's sort key (and of a query in
/// its `begins_with`); longer queries are told apart by verification.
pub const KEY_CHARS: usize = 24;
/// Items per `BatchWriteItem`, DynamoDB's maximum.
const BATCH_WRITE_SIZE: usize = 25;
/// `BatchWriteItem` calls of one client's entries in flight at once (a
/// 200-character name and a phone: 10 calls, all at once).
const WRITES_IN_FLIGHT: usize = 16;
/// Separates the suffix from the id in an entry's sort key; sorts below
/// every character a name or phone holds.
const SEPARATOR: char = '\u{1}';
/// The attribute holding the client version an entry was written for.
const VERSION: &str = "version";

/// The key of one search index entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// `ORG#<org>#NAME#<c>` or `ORG#<org>#PHONE#<d>`.
    pub pk: String,
    /// `<suffix, truncated>\x01<id>`.
    pub sk: String,
}

impl Entry {
    fn key(&self) -> super::item::Item {
        [
            (attr::PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (attr::SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ]
        .into()
    }

    /// The `BatchWriteItem` request that puts this entry, for a client at `version`.
    pub fn put_request(&self, version: u64) -> Result<WriteRequest, StoreError> {
        let mut item = self.key();
        item.insert(VERSION.to_owned(), AttributeValue::N(version.to_string()));
        let put = PutRequest::builder()
            .set_item(Some(item))
            .build()
            .map_err(StoreError::failed)?;
        Ok(WriteRequest::builder().put_request(put).build())
    }

    fn delete_request(&self) -> Result<WriteRequest, StoreError> {
        let delete = DeleteRequest::builder()
            .set_key(Some(self.key()))
            .build()
            .map_err(StoreError::failed)?;
        Ok(WriteRequest::builder().delete_request(delete).build())
    }
}

/// The first [`KEY_CHARS`] characters of `text`.
fn truncated(text: &str) -> &str {
    match text.char_indices().nth(KEY_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// One entry per distinct (truncated) suffix of `text` not starting with whitespace.
fn suffix_entries(
    org: &OrgId,
    field: &SearchableField,
    text: &str,
    id: ClientId,
    out: &mut BTreeSet<Entry>,
) {
    for (start, first) in text.char_indices() {
        if first.is_whitespace() {
            continue;
        }
        out.insert(Entry {
            pk: search_partition(org, field.tag, first),
            sk: format!("{}{SEPARATOR}{id}", truncated(&text[start..])),
        });
    }
}

/// Every entry of a client: the suffixes of each searchable field's
/// normalized value ([`SEARCHABLE_FIELDS`]).
pub fn entries(org: &OrgId, client: &Client) -> BTreeSet<Entry> {
    let mut out = BTreeSet::new();
    for (field, value) in SEARCHABLE_FIELDS.iter().zip(searchable_values(client)) {
        if let Some(value) = value {
            suffix_entries(org, field, &value, client.id, &mut out);
        }
    }
    out
}

/// What a change from `before` to `after` adds to the index and leaves
/// unneeded in it (both empty when neither name nor phone digits changed).
pub fn changes(org: &OrgId, before: &Client, after: &Client) -> (Vec<Entry>, Vec<Entry>) {
    let (old, new) = (entries(org, before), entries(org, after));
    (
        new.difference(&old).cloned().collect(),
        old.difference(&new).cloned().collect(),
    )
}

/// The id an entry's sort key ends with.
fn id_of(sk: &str) -> Option<ClientId> {
    ClientId::parse(sk.rsplit(SEPARATOR).next()?)
}

/// Puts `entries` for a client at `version`: `BatchWriteItem` calls of 25,
/// [`WRITES_IN_FLIGHT`] at once, unprocessed items sent again.
pub async fn put(table: &Table, entries: &[Entry], version: u64) -> Result<(), StoreError> {
    let requests = entries
        .iter()
        .map(|entry| entry.put_request(version))
        .collect::<Result<Vec<_>, _>>()?;
    write_all(table, requests).await
}

/// Deletes the entries of a deleted client (ids are never reused, so no
/// newer write can need them).
pub async fn delete(table: &Table, entries: &[Entry]) -> Result<(), StoreError> {
    let requests = entries
        .iter()
        .map(Entry::delete_request)
        .collect::<Result<Vec<_>, _>>()?;
    write_all(table, requests).await
}

/// Deletes the entries a client no longer needs since it reached `version`,
/// each one only while it was written for `version` or earlier (one
/// conditional `DeleteItem` each, [`WRITES_IN_FLIGHT`] at once): an entry
/// put back by a newer write of the client is kept.
pub async fn delete_unneeded(
    table: &Table,
    entries: &[Entry],
    version: u64,
) -> Result<(), StoreError> {
    let deletes: Vec<_> = entries
        .iter()
        .map(|entry| delete_if_not_newer(table, entry, version))
        .collect();
    stream::iter(deletes)
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect::<()>()
        .await
}

/// Deletes one entry while it was written for `version` or earlier.
async fn delete_if_not_newer(table: &Table, entry: &Entry, version: u64) -> Result<(), StoreError> {
    let result = table
        .client
        .delete_item()
        .table_name(&table.name)
        .set_key(Some(entry.key()))
        .condition_expression("#v <= :v")
        .expression_attribute_names("#v", VERSION)
        .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(())
        }
        Err(error) => Err(StoreError::from(error)),
    }
}

/// Sends write requests in `BatchWriteItem` calls of 25, [`WRITES_IN_FLIGHT`] at once.
pub async fn write_all(table: &Table, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
    let batches: Vec<Vec<WriteRequest>> = requests
        .chunks(BATCH_WRITE_SIZE)
        .map(<[WriteRequest]>::to_vec)
        .collect();
    // Futures collected first: a lazy `map` in the stream trips the
    // `Send` check of the spawned request futures (higher-ranked lifetimes).
    let writes: Vec<_> = batches
        .into_iter()
        .map(|batch| table.batch_write(batch))
        .collect();
    stream::iter(writes)
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect::<()>()
        .await
}

/// The partitions and prefixes a search term is looked up under: what it
/// matches in each searchable field, in that field's partition of its first
/// character.
fn probes(org: &OrgId, term: &SearchTerm) -> Vec<(String, String)> {
    let mut probes = Vec::with_capacity(SEARCHABLE_FIELDS.len());
    for (field, part) in SEARCHABLE_FIELDS.iter().zip(&term.parts) {
        let Some(text) = part else { continue };
        if let Some(first) = text.chars().next() {
            probes.push((
                search_partition(org, field.tag, first),
                truncated(text).to_owned(),
            ));
        }
    }
    probes
}

/// The distinct clients the search index holds entries of for a term:
/// candidates, to be verified against their client items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    /// Each candidate once, in the order its first entry was read.
    pub ids: Vec<ClientId>,
    /// Whether these are all of them (the entries were read to their end).
    pub complete: bool,
}

/// Reads the entries of every probe of `term` (strongly consistent `Query`,
/// page after page, keys only), at most `at_most` entries of each probe if
/// given, and returns the distinct candidate ids.
pub async fn candidates(
    table: &Table,
    org: &OrgId,
    term: &SearchTerm,
    at_most: Option<usize>,
) -> Result<Candidates, StoreError> {
    let mut found = Candidates {
        ids: Vec::new(),
        complete: true,
    };
    let mut seen = HashSet::new();
    for (partition, prefix) in probes(org, term) {
        let mut start_key = None;
        let mut read = 0;
        loop {
            let left =
                at_most.map(|limit| limit.saturating_sub(read).clamp(1, i32::MAX as usize) as i32);
            let output = table
                .prefix_page(&partition, &prefix, start_key, PagePart::SortKeys(left))
                .await?;
            for entry in output.items.unwrap_or_default() {
                read += 1;
                let id = match entry.get(attr::SK) {
                    Some(AttributeValue::S(sk)) => id_of(sk),
                    _ => None,
                }
                .ok_or_else(|| StoreError::corrupt("search index entry without a client id"))?;
                if seen.insert(id) {
                    found.ids.push(id);
                }
            }
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
            if at_most.is_some_and(|limit| read >= limit) {
                found.complete = false;
                break;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::item::test_client as client;

    fn org() -> OrgId {
        "acme".parse().unwrap()
    }

    #[test]
    fn every_suffix_of_name_and_phone_digits_is_an_entry_in_the_partition_of_its_first_char() {
        let ann = client("Ann B", Some("+1 55"));

        let keys: Vec<(String, String)> = entries(&org(), &ann)
            .into_iter()
            .map(|e| (e.pk, e.sk.replace(&format!("{SEPARATOR}{}", ann.id), "")))
            .collect();

        let expected = [
            ("ORG#acme#NAME#a", "ann b"),
            ("ORG#acme#NAME#b", "b"),
            ("ORG#acme#NAME#n", "n b"),
            ("ORG#acme#NAME#n", "nn b"),
            ("ORG#acme#PHONE#1", "155"),
            ("ORG#acme#PHONE#5", "5"),
            ("ORG#acme#PHONE#5", "55"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(pk, sk)| ((*pk).to_owned(), (*sk).to_owned()))
            .collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn long_suffixes_are_truncated_and_identical_ones_kept_once() {
        let long = client(&"a".repeat(60), None);

        let entries = entries(&org(), &long);

        // 60 suffixes of "aaa…": those of 24 or more characters are one truncated key.
        assert_eq!(entries.len(), 24);
        assert!(entries.iter().all(|e| id_of(&e.sk) == Some(long.id)));
    }

    #[test]
    fn a_rename_adds_the_new_suffixes_and_drops_the_old_ones_only() {
        let before = client("abc", Some("123"));
        let after = Client {
            name: crate::domain::fields::ClientName::parse("xbc").unwrap(),
            ..before.clone()
        };

        let (added, removed) = changes(&org(), &before, &after);

        assert_eq!(added.len(), 1);
        assert!(added[0].pk.ends_with("#NAME#x"));
        assert_eq!(removed.len(), 1);
        assert!(removed[0].pk.ends_with("#NAME#a"));
        assert_eq!(changes(&org(), &before, &before), (vec![], vec![]));
    }

    #[test]
    fn a_phone_query_probes_the_name_and_the_phone_partitions() {
        let term = SearchTerm::parse("(555) 12").unwrap();
        let word = SearchTerm::parse("Ümit").unwrap();

        assert_eq!(
            probes(&org(), &term),
            [
                ("ORG#acme#NAME#(".to_owned(), "(555) 12".to_owned()),
                ("ORG#acme#PHONE#5".to_owned(), "55512".to_owned()),
            ]
        );
        assert_eq!(
            probes(&org(), &word),
            [("ORG#acme#NAME#ü".to_owned(), "ümit".to_owned())]
        );
    }
}

//! Order items: a copy of each client in every order a list walks, so that
//! one strongly consistent `Query` returns a page.
//!
//! For each client there are six: by creation, by name and by phone, each
//! organization-wide and in its status's partition ([`layout::order_pk`]),
//! under the sort key of that order ([`OrderField::sort_key`]). They carry
//! what a page shows (the client's fields and version; its notes only up to
//! [`NOTES_COPIED_MAX_CHARS`], else the item says they are elsewhere and a
//! page reads the client item for them) and are written in the same
//! `TransactWriteItems` as the client ([`puts`], [`changes`], [`deletes`]):
//! a page holds exactly the clients as they are, in order, with no lag.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::item::{ClientItem, Item};
use super::layout::{attr, order_pk, OrderField};
use super::table::Table;
use crate::domain::fields::Phone;
use crate::domain::list_query::{ListQuery, SortField, SortOrder};
use crate::domain::model::{Client, OrgId, Status};
use crate::domain::position::Position;
use crate::domain::search::fold_name;

/// Notes up to this many characters are copied into the order items (a
/// page of such clients is one `Query`); longer ones are read from the
/// client item, so that writing a client with long notes does not write
/// them six times more.
pub const NOTES_COPIED_MAX_CHARS: usize = 256;

/// The attribute of an order item whose client's notes are too long to copy.
const NOTES_ELSEWHERE: &str = "notesElsewhere";

/// Where one order item of a client is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OrderKey {
    pk: String,
    sk: String,
}

/// The keys of a client's six order items.
fn keys(org: &OrgId, client: &Client) -> Vec<OrderKey> {
    let name_fold = fold_name(client.name.as_str());
    let phone = client.phone.as_ref().map(Phone::as_str);
    let mut keys = Vec::with_capacity(6);
    for field in OrderField::ALL {
        let sk = field.sort_key(&name_fold, phone, client.id);
        for status in [None, Some(client.status)] {
            keys.push(OrderKey {
                pk: order_pk(org, field, status),
                sk: sk.clone(),
            });
        }
    }
    keys
}

/// An order item of `client` at `key`.
fn item(key: &OrderKey, client: &Client) -> Result<Item, StoreError> {
    let long_notes = client
        .notes
        .as_ref()
        .is_some_and(|notes| notes.as_str().chars().count() > NOTES_COPIED_MAX_CHARS);
    let copied = Client {
        notes: if long_notes {
            None
        } else {
            client.notes.clone()
        },
        ..client.clone()
    };
    let mut item: Item =
        serde_dynamo::to_item(ClientItem::at(key.pk.clone(), key.sk.clone(), &copied))
            .map_err(StoreError::corrupt)?;
    item.retain(|_, value| !matches!(value, AttributeValue::Null(true)));
    if long_notes {
        item.insert(NOTES_ELSEWHERE.to_owned(), AttributeValue::Bool(true));
    }
    Ok(item)
}

fn put(table: &Table, key: &OrderKey, client: &Client) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(item(key, client)?))
        .build()
        .map_err(StoreError::failed)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(table: &Table, key: &OrderKey) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder()
        .table_name(&table.name)
        .key(attr::PK, AttributeValue::S(key.pk.clone()))
        .key(attr::SK, AttributeValue::S(key.sk.clone()))
        .build()
        .map_err(StoreError::failed)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// The transaction items that put a new client's order items.
pub fn puts(
    table: &Table,
    org: &OrgId,
    client: &Client,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    keys(org, client)
        .iter()
        .map(|key| put(table, key, client))
        .collect()
}

/// The transaction items that move a client's order items from `old` to
/// `new`: every item of `new` put (its fields changed), and each item of
/// `old` whose key `new` no longer has (a new name, phone or status) deleted.
pub fn changes(
    table: &Table,
    org: &OrgId,
    old: &Client,
    new: &Client,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let new_keys = keys(org, new);
    let mut items = puts(table, org, new)?;
    for key in keys(org, old) {
        if !new_keys.contains(&key) {
            items.push(delete(table, &key)?);
        }
    }
    Ok(items)
}

/// The transaction items that delete a client's order items.
pub fn deletes(
    table: &Table,
    org: &OrgId,
    client: &Client,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    keys(org, client)
        .iter()
        .map(|key| delete(table, key))
        .collect()
}

/// The `PutRequest`s of a new client's order items, for the bulk import
/// (`store::admin::import`; its clients are new, so nothing races it).
pub fn put_requests(
    org: &OrgId,
    client: &Client,
) -> Result<Vec<aws_sdk_dynamodb::types::WriteRequest>, StoreError> {
    keys(org, client)
        .iter()
        .map(|key| {
            let put = aws_sdk_dynamodb::types::PutRequest::builder()
                .set_item(Some(item(key, client)?))
                .build()
                .map_err(StoreError::failed)?;
            Ok(aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(put)
                .build())
        })
        .collect()
}

/// Puts the order items of a client stored before they existed (the
/// backfill, `store::admin::search_backfill`), in one transaction
/// conditioned on the client still being at the version read: a write
/// racing the backfill has written them itself. Whether they were put.
pub async fn backfill(table: &Table, org: &OrgId, client: &Client) -> Result<bool, StoreError> {
    let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(&table.name)
        .set_key(Some(super::item::client_key(org, client.id)))
        .condition_expression("version = :version")
        .expression_attribute_values(":version", AttributeValue::N(client.version.to_string()))
        .build()
        .map_err(StoreError::failed)?;
    let mut items = vec![TransactWriteItem::builder().condition_check(check).build()];
    items.extend(puts(table, org, client)?);
    let sent = table
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .client_request_token(uuid::Uuid::now_v7().to_string())
        .send()
        .await;
    match sent {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_transaction_canceled_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// A client read from an order item.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered {
    /// Where it is in its run (a cursor resumes right after it).
    pub position: Position,
    /// The client; without its notes when [`Self::notes_elsewhere`].
    pub client: Client,
    /// Whether its notes are too long to be copied and must be read from the client item.
    pub notes_elsewhere: bool,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(flatten)]
    item: ClientItem,
    #[serde(default)]
    notes_elsewhere: bool,
}

/// One ordered run of order items: one partition, one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The partition ([`order_pk`]).
    pub partition: String,
    /// Ascending (`sortOrder=asc`) or not.
    pub ascending: bool,
}

/// The runs that list an organization's clients in the requested order,
/// walked one after the other: one, except `sortBy=status` without a status
/// filter (each status's partition by creation, in status order).
pub fn runs(org: &OrgId, query: &ListQuery) -> Vec<Run> {
    let ascending = query.sort_order == SortOrder::Asc;
    let run = |field, status| Run {
        partition: order_pk(org, field, status),
        ascending,
    };
    let filter = query.status.single();
    match query.sort_by {
        SortField::CreatedAt => vec![run(OrderField::Created, filter)],
        SortField::Name => vec![run(OrderField::Name, filter)],
        SortField::Phone => vec![run(OrderField::Phone, filter)],
        SortField::Status => match filter {
            Some(status) => vec![run(OrderField::Created, Some(status))],
            None => {
                let mut statuses = Status::ALL.to_vec();
                if !ascending {
                    statuses.reverse();
                }
                statuses
                    .into_iter()
                    .map(|status| run(OrderField::Created, Some(status)))
                    .collect()
            }
        },
    }
}

/// Reads runs in order, page after page (strongly consistent `Query`s).
pub struct Walk<'a> {
    table: &'a Table,
    runs: Vec<Run>,
    run: usize,
    start_key: Option<Item>,
    done: bool,
}

impl<'a> Walk<'a> {
    /// A walk of `runs` from the start, or from right after `after`.
    pub fn new(table: &'a Table, runs: Vec<Run>, after: Option<&Position>) -> Self {
        let run = after.map_or(0, |position| position.run);
        let start_key = after.and_then(|position| {
            runs.get(position.run).map(|run| {
                HashMap::from([
                    (
                        attr::PK.to_owned(),
                        AttributeValue::S(run.partition.clone()),
                    ),
                    (
                        attr::SK.to_owned(),
                        AttributeValue::S(position.sort_key.clone()),
                    ),
                ])
            })
        });
        let done = run >= runs.len();
        Self {
            table,
            runs,
            run,
            start_key,
            done,
        }
    }

    /// The next at most `limit` clients (fewer only at a run's end or a
    /// page's 1 MB); empty once every run is read.
    pub async fn next(&mut self, limit: usize) -> Result<Vec<Ordered>, StoreError> {
        while !self.done {
            let run_index = self.run;
            let run = &self.runs[run_index];
            let output = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":pk", AttributeValue::S(run.partition.clone()))
                .scan_index_forward(run.ascending)
                .consistent_read(true)
                .limit(limit.clamp(1, i32::MAX as usize) as i32)
                .set_exclusive_start_key(self.start_key.take())
                .send()
                .await?;
            self.start_key = output.last_evaluated_key;
            if self.start_key.is_none() {
                self.run += 1;
                self.done = self.run >= self.runs.len();
            }
            let items = output.items.unwrap_or_default();
            if items.is_empty() {
                continue;
            }
            return items
                .into_iter()
                .map(|item| ordered(run_index, item))
                .collect();
        }
        Ok(Vec::new())
    }
}

/// A client (read whole, from its item) at the place `runs` give it: the
/// run holding one of its order items, and that item's sort key. `None` if
/// no run holds it (a status the runs do not list).
pub fn ordered_in(runs: &[Run], org: &OrgId, client: Client) -> Option<Ordered> {
    let keys = keys(org, &client);
    let (run, key) = runs.iter().enumerate().find_map(|(index, run)| {
        keys.iter()
            .find(|key| key.pk == run.partition)
            .map(|key| (index, key))
    })?;
    Some(Ordered {
        position: Position {
            run,
            sort_key: key.sk.clone(),
            id: client.id,
        },
        client,
        notes_elsewhere: false,
    })
}

fn ordered(run: usize, item: Item) -> Result<Ordered, StoreError> {
    let stored: Stored = serde_dynamo::from_item(item).map_err(StoreError::corrupt)?;
    let sort_key = stored.item.sk.clone();
    let client = stored.item.into_client();
    Ok(Ordered {
        position: Position {
            run,
            sort_key,
            id: client.id,
        },
        client,
        notes_elsewhere: stored.notes_elsewhere,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fields::Notes;
    use crate::domain::list_query::StatusFilter;
    use crate::store::item::test_client as client;

    fn org() -> OrgId {
        "acme".parse().unwrap()
    }

    fn table() -> Table {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        Table {
            client: aws_sdk_dynamodb::Client::from_conf(config),
            name: "t".into(),
        }
    }

    fn key_of(item: &TransactWriteItem) -> (String, String) {
        let key = match (item.put(), item.delete()) {
            (Some(put), _) => put.item(),
            (_, Some(delete)) => delete.key(),
            _ => unreachable!(),
        };
        let text = |name: &str| key[name].as_s().unwrap().clone();
        (text("pk"), text("sk"))
    }

    #[test]
    fn a_client_has_one_item_per_order_organization_wide_and_in_its_status() {
        let ann = client("Ann", Some("+1 555"));

        let partitions: Vec<String> = keys(&org(), &ann).into_iter().map(|k| k.pk).collect();

        assert_eq!(
            partitions,
            [
                "ORG#acme#BY#CREATED",
                "ORG#acme#BY#CREATED#active",
                "ORG#acme#BY#NAME",
                "ORG#acme#BY#NAME#active",
                "ORG#acme#BY#PHONE",
                "ORG#acme#BY#PHONE#active",
            ]
        );
    }

    #[test]
    fn a_rename_and_status_change_deletes_exactly_the_items_whose_keys_moved() {
        let old = client("Ann", Some("+1 555"));
        let new = Client {
            name: crate::domain::fields::ClientName::parse("Bea").unwrap(),
            status: Status::Inactive,
            ..old.clone()
        };

        let items = changes(&table(), &org(), &old, &new).unwrap();

        let deleted: Vec<_> = items
            .iter()
            .filter(|i| i.delete().is_some())
            .map(key_of)
            .collect();
        let put: Vec<_> = items
            .iter()
            .filter(|i| i.put().is_some())
            .map(key_of)
            .collect();
        assert_eq!(put.len(), 6);
        let deleted_partitions: Vec<&str> = deleted.iter().map(|(pk, _)| pk.as_str()).collect();
        assert_eq!(
            deleted_partitions,
            [
                "ORG#acme#BY#CREATED#active",
                "ORG#acme#BY#NAME",
                "ORG#acme#BY#NAME#active",
                "ORG#acme#BY#PHONE#active",
            ]
        );
    }

    #[test]
    fn long_notes_stay_in_the_client_item_and_short_ones_are_copied() {
        let short = Client {
            notes: Some(Notes::parse(&"n".repeat(NOTES_COPIED_MAX_CHARS)).unwrap()),
            ..client("Ann", None)
        };
        let long = Client {
            notes: Some(Notes::parse(&"n".repeat(NOTES_COPIED_MAX_CHARS + 1)).unwrap()),
            ..client("Bea", None)
        };
        let read = |c: &Client| ordered(0, item(&keys(&org(), c)[0], c).unwrap()).unwrap();

        let (short_read, long_read) = (read(&short), read(&long));

        assert_eq!(short_read.client, short);
        assert!(!short_read.notes_elsewhere);
        assert_eq!(long_read.client.notes, None);
        assert!(long_read.notes_elsewhere);
        assert_eq!(
            Client {
                notes: long.notes.clone(),
                ..long_read.client
            },
            long
        );
    }

    #[test]
    fn status_sort_without_filter_walks_each_status_partition_in_turn() {
        let query = ListQuery {
            sort_by: SortField::Status,
            sort_order: SortOrder::Desc,
            ..ListQuery::default()
        };

        let runs = runs(&org(), &query);

        let partitions: Vec<_> = runs.iter().map(|r| r.partition.as_str()).collect();
        assert_eq!(
            partitions,
            ["ORG#acme#BY#CREATED#inactive", "ORG#acme#BY#CREATED#active"]
        );
        assert!(runs.iter().all(|r| !r.ascending));
    }

    #[test]
    fn a_single_status_filter_walks_that_status_partition() {
        let query = ListQuery {
            sort_by: SortField::Name,
            status: StatusFilter::only(Status::Active),
            ..ListQuery::default()
        };

        assert_eq!(
            runs(&org(), &query),
            [Run {
                partition: "ORG#acme#BY#NAME#active".into(),
                ascending: true
            }]
        );
    }
}

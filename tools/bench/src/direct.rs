//! The overhead section's baseline: the DynamoDB calls the handlers make for
//! a get, a create and a first list page, made directly with the SDK.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use serde_json::json;
use shared::domain::input::NewClient;
use shared::domain::model::{ClientId, OrgId, Status};
use shared::store::counts;
use shared::store::item::{client_key, to_item};
use shared::store::layout::{attr, org_pk, BY_CREATED};
use shared::store::Table;

use crate::load::Op;

/// `GetItem` of the `n`-th of `ids` (round robin); a success finds the item.
pub fn get_op(table: &Table, org: &Arc<OrgId>, ids: Arc<Vec<ClientId>>) -> Op {
    let (table, org) = (table.clone(), org.clone());
    Arc::new(move |n| {
        let (table, ids, org) = (table.clone(), ids.clone(), org.clone());
        Box::pin(async move {
            let id = ids[n as usize % ids.len()];
            let output = table
                .client
                .get_item()
                .table_name(&table.name)
                .set_key(Some(client_key(&org, id)))
                .consistent_read(true)
                .send()
                .await;
            matches!(output, Ok(o) if o.item.is_some())
        })
    })
}

/// The create's `TransactWriteItems`: the client's item and its status
/// count, on a random shard.
pub fn create_op(table: &Table, org: &Arc<OrgId>) -> Op {
    let (table, org) = (table.clone(), org.clone());
    Arc::new(move |_| {
        let (table, org) = (table.clone(), org.clone());
        Box::pin(async move {
            let put = new_client_put(&table, &org);
            let shard = counts::pick_shard(counts::DEFAULT_SHARDS);
            let count = counts::change(&table, &org, shard, &[(Status::Active, 1)])
                .expect("a counts update");
            table
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(count)
                .send()
                .await
                .is_ok()
        })
    })
}

/// The conditional put of a new client, as the create handler writes it.
fn new_client_put(table: &Table, org: &OrgId) -> Put {
    let body =
        json!({"name": "Load Created", "phone": "+1 555-0101", "notes": "created under load"});
    let new = NewClient::from_json(body.as_object().expect("an object")).expect("a valid body");
    let client = new.into_client(ClientId::new());
    Put::builder()
        .table_name(&table.name)
        .set_item(Some(to_item(org, &client).expect("an item")))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("a put")
}

/// A first list page's calls ([`list_page`]); a success gets the items.
pub fn list_op(table: &Table, org: &Arc<OrgId>) -> Op {
    let (table, org) = (table.clone(), org.clone());
    Arc::new(move |_| {
        let (table, org) = (table.clone(), org.clone());
        Box::pin(async move { list_page(&table, &org).await.is_some() })
    })
}

/// The DynamoDB calls of a first list page, made directly: the counts, 51
/// entries of the keys-only walk, and the 50 items.
async fn list_page(table: &Table, org: &OrgId) -> Option<usize> {
    counts::read(table, org).await.ok()?;
    let keys = first_page_keys(table, org).await?;
    let output = table
        .client
        .batch_get_item()
        .request_items(
            &table.name,
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .ok()?,
        )
        .send()
        .await
        .ok()?;
    Some(output.responses()?.get(&table.name)?.len())
}

/// The keys of the first 50 clients by creation, from a 51-entry keys-only
/// query of the index.
async fn first_page_keys(
    table: &Table,
    org: &OrgId,
) -> Option<Vec<HashMap<String, AttributeValue>>> {
    let entries = table
        .client
        .query()
        .table_name(&table.name)
        .index_name(BY_CREATED.name)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", attr::PK)
        .expression_attribute_names("#sk", attr::SK)
        .expression_attribute_names("#sort", BY_CREATED.sort_key)
        .expression_attribute_values(":p", AttributeValue::S(org_pk(org)))
        .projection_expression("#sk, #sort")
        .limit(51)
        .send()
        .await
        .ok()?;
    let keys = entries
        .items()
        .iter()
        .take(50)
        .map(|entry| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(org_pk(org))),
                ("sk".to_owned(), entry.get(attr::SK).cloned().expect("sk")),
            ])
        })
        .collect();
    Some(keys)
}

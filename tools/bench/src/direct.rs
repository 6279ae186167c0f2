//! The overhead section's baseline: the DynamoDB calls the handlers make for
//! a get, a create and a first list page, made directly with the SDK.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde_json::json;
use shared::domain::input::NewClient;
use shared::domain::model::{ClientId, OrgId, Status};
use shared::store::counts;
use shared::store::item::{client_key, to_item};
use shared::store::layout::{attr, order_pk, OrderField};
use shared::store::order;
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

/// The create's `TransactWriteItems`: the client's item, its order items
/// and its status count, on a random shard.
pub fn create_op(table: &Table, org: &Arc<OrgId>) -> Op {
    let (table, org) = (table.clone(), org.clone());
    Arc::new(move |_| {
        let (table, org) = (table.clone(), org.clone());
        Box::pin(async move {
            let (put, orders) = new_client_writes(&table, &org);
            let shard = counts::pick_shard(counts::DEFAULT_SHARDS);
            let count = counts::change(&table, &org, shard, &[(Status::Active, 1)])
                .expect("a counts update");
            table
                .client
                .transact_write_items()
                .set_transact_items(Some(
                    [
                        vec![TransactWriteItem::builder().put(put).build()],
                        orders,
                        vec![count],
                    ]
                    .concat(),
                ))
                .send()
                .await
                .is_ok()
        })
    })
}

/// The conditional put of a new client and its order items, as the create
/// handler writes them.
fn new_client_writes(table: &Table, org: &OrgId) -> (Put, Vec<TransactWriteItem>) {
    let body =
        json!({"name": "Load Created", "phone": "+1 555-0101", "notes": "created under load"});
    let new = NewClient::from_json(body.as_object().expect("an object")).expect("a valid body");
    let client = new.into_client(ClientId::new());
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(to_item(org, &client).expect("an item")))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("a put");
    (put, order::puts(table, org, &client).expect("order items"))
}

/// A first list page's calls ([`list_page`]); a success gets the items.
pub fn list_op(table: &Table, org: &Arc<OrgId>) -> Op {
    let (table, org) = (table.clone(), org.clone());
    Arc::new(move |_| {
        let (table, org) = (table.clone(), org.clone());
        Box::pin(async move { list_page(&table, &org).await.is_some() })
    })
}

/// The DynamoDB calls of a first list page, made directly: the counts,
/// and 51 order items by creation (strongly consistent), the page's 50
/// and one to know a page follows.
async fn list_page(table: &Table, org: &OrgId) -> Option<usize> {
    counts::read(table, org).await.ok()?;
    let output = table
        .client
        .query()
        .table_name(&table.name)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", attr::PK)
        .expression_attribute_values(
            ":pk",
            AttributeValue::S(order_pk(org, OrderField::Created, None)),
        )
        .consistent_read(true)
        .limit(51)
        .send()
        .await
        .ok()?;
    Some(output.items().len().min(50))
}

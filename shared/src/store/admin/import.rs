//! Bulk import: many clients written at once, for demo data, tests and the
//! benchmark. Not an API path: it skips validation and per-client
//! transactions, writing the client items, their order items and their
//! search index entries with `BatchWriteItem` from several concurrent writers, then adds the
//! imported clients to the organization's counts in one `UpdateItem`. The
//! clients must be new (fresh ids).

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use crate::domain::input::NewClient;
use crate::domain::model::{Client, ClientId, OrgId, Status};
use crate::store::counts;
use crate::store::error::StoreError;
use crate::store::item::to_item;
use crate::store::order;
use crate::store::search_index;
use crate::store::table::Table;

/// Items per `BatchWriteItem`, DynamoDB's maximum.
const BATCH_SIZE: usize = 25;

/// `n` sample clients with fresh ids: names `Client 00000`…, a phone on six
/// of seven (`+1 555-…`), every third one inactive.
pub fn sample_clients(n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let body = serde_json::json!({
                "name": format!("Client {i:05}"),
                "phone": (i % 7 != 0).then(|| format!("+1 555-{:04}", (i * 7919) % 10_000)),
                "status": if i % 3 == 0 { "inactive" } else { "active" },
                "notes": "sample data",
            });
            let object = body.as_object().expect("a JSON object");
            NewClient::from_json(object)
                .expect("a valid sample client")
                .into_client(ClientId::new())
        })
        .collect()
}

/// Writes `clients` into the organization, with their search index
/// entries, from `writers` concurrent `BatchWriteItem` loops (unprocessed
/// items are sent again), then adds them to its counts.
pub async fn import_clients(
    table: &Table,
    org: &OrgId,
    clients: &[Client],
    writers: usize,
) -> Result<(), StoreError> {
    let mut requests = Vec::new();
    for client in clients {
        let put = PutRequest::builder()
            .set_item(Some(to_item(org, client)?))
            .build()
            .map_err(StoreError::failed)?;
        requests.push(WriteRequest::builder().put_request(put).build());
        requests.extend(order::put_requests(org, client)?);
        for entry in search_index::entries(org, client) {
            requests.push(entry.put_request(client.version)?);
        }
    }
    let batches: Vec<Vec<WriteRequest>> = requests
        .chunks(BATCH_SIZE)
        .map(<[WriteRequest]>::to_vec)
        .collect();
    let batches = Arc::new(Mutex::new(batches));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers.max(1) {
        let (batches, table) = (Arc::clone(&batches), table.clone());
        tasks.spawn(async move {
            loop {
                let Some(batch) = batches.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    return Ok::<(), StoreError>(());
                };
                table.batch_write(batch).await?;
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(StoreError::failed)??;
    }
    let active = clients
        .iter()
        .filter(|c| c.status == Status::Active)
        .count() as i64;
    let inactive = clients.len() as i64 - active;
    counts::add(
        table,
        org,
        &[(Status::Active, active), (Status::Inactive, inactive)],
    )
    .await
}

//! Index propagation lag: a read of a global secondary index sees the table
//! as it was a configured time ago ([`crate::ProxyConfig::index_lag`]).
//!
//! On the service a write reaches a table's GSIs asynchronously: "within 1
//! second" typically, longer for big tables or under-provisioned indexes
//! (AWS knowledge center, on GSI replication lag); "there is always a short
//! propagation delay" between a table write and its GSIs (developer guide,
//! "Using Global Secondary Indexes to create an eventually consistent
//! replica"), and "queries on global secondary indexes support eventual
//! consistency only" (developer guide, the comparison of global and local
//! secondary indexes). DynamoDB Local
//! updates its indexes before it answers the write.
//!
//! How: for each table with GSIs the proxy keeps an **index view**, a table
//! of the same keys and GSIs in the same DynamoDB Local, named
//! `<table>`[`VIEW_SUFFIX`] (hidden from `ListTables`). A `Query` or `Scan`
//! with an `IndexName` naming a GSI is forwarded to the view (its
//! `TableName` rewritten, and the view's name put back in the answer), so
//! DynamoDB Local itself evaluates key conditions, filters, projections,
//! paging and counts, exactly as for the table. Everything else (`GetItem`,
//! a `Query` of the table or of an LSI, `ConsistentRead`, transactions,
//! batches) reads the table itself: strongly consistent when asked.
//!
//! Each committed write of the table reaches the view one lag after its
//! answer came from DynamoDB Local: `PutItem`, `UpdateItem`, `DeleteItem`,
//! `TransactWriteItems` (its `Put`/`Update`/`Delete`, not its
//! `ConditionCheck`) and `BatchWriteItem` (only the items forwarded and not
//! returned unprocessed). A write that failed (a failed condition, a
//! cancelled transaction, a throttle, a dropped request) changes nothing.
//! A put's result is its item and a delete's is no item; an update's result
//! is read back (strongly consistent) right after it, while the item is
//! locked against the proxy's other writes ([`crate::item_locks`]), so it is
//! the item exactly as that update left it; the update's own request and
//! answer are forwarded unchanged. The view holds only items that are in at
//! least one index (the others never show in an index read); a write that
//! leaves an item in no index is not applied to a view this proxy filled
//! and knows does not hold its key (it tracks the keys of such views), so
//! that the views keep up with a busy table of mostly unindexed items.
//!
//! When the proxy first needs a table's view it creates it and copies the
//! table's current items into it (the items written before the proxy saw
//! the table count as propagated), or reuses one another proxy before the
//! same DynamoDB Local made (a view older than its table, or with other
//! indexes, is made again). So the view learns only the writes made through
//! a proxy with lag on: a write made around it (straight to DynamoDB Local,
//! or through a proxy with lag off) never reaches index reads of a lagging
//! proxy. A `DeleteTable` through the proxy deletes the view too.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::HeaderMap;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::conflicts::ItemId;
use crate::item_locks::Held;
use crate::rules::Write;
use crate::schema::TableSchema;
use crate::state::Shared;

mod views;

pub use views::IndexViews;
use views::Pending;

/// What a view's name adds to its table's name (table names may hold `.`
/// and `-`; a table whose name would grow past 255 characters gets no view
/// and no lag).
pub const VIEW_SUFFIX: &str = ".index-view.dynamodb-proxy";

/// The longest table name DynamoDB allows.
const MAX_TABLE_NAME: usize = 255;
/// The most items one `BatchWriteItem` takes.
const BATCH_WRITE_MAX: usize = 25;
/// Rounds of a view write whose unprocessed items are sent again.
const BATCH_ROUNDS: usize = 10;

/// The view of `table`, if its name fits.
pub fn view_name(table: &str) -> Option<String> {
    let name = format!("{table}{VIEW_SUFFIX}");
    (name.len() <= MAX_TABLE_NAME).then_some(name)
}

/// Whether `name` is a view's.
pub fn is_view(name: &str) -> bool {
    name.ends_with(VIEW_SUFFIX)
}

/// An item's key and its new state (`None`: no item), as a view write takes them.
type ViewWrite = (Map<String, Value>, Option<Map<String, Value>>);

/// A write on its way to the upstream whose result the view must learn.
pub struct Tracked<'a> {
    writes: Vec<(String, Write)>,
    _held: Held<'a>,
}

/// The headers the proxy's own calls carry (the client's credentials).
fn credentials(headers: &HeaderMap) -> HeaderMap {
    let mut copied = HeaderMap::new();
    for name in crate::upstream::CREDENTIAL_HEADERS {
        if let Some(value) = headers.get(name) {
            copied.insert(name, value.clone());
        }
    }
    copied
}

/// Whether the item is in at least one of the table's indexes.
fn in_an_index(schema: &TableSchema, item: &Map<String, Value>) -> bool {
    schema
        .indexes
        .iter()
        .any(|index| index.entry_size(schema, item).is_some())
}

/// `CreateTable` for the view of the table `described` (a `DescribeTable`'s `Table`).
fn view_definition(described: &Value, view: &str) -> Value {
    let indexes: Vec<Value> = described["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|index| {
            json!({
                "IndexName": index["IndexName"],
                "KeySchema": index["KeySchema"],
                "Projection": index["Projection"],
            })
        })
        .collect();
    json!({
        "TableName": view,
        "AttributeDefinitions": described["AttributeDefinitions"],
        "KeySchema": described["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": indexes,
    })
}

/// The names of a described table's GSIs, sorted.
fn index_names(described: &Value) -> Vec<String> {
    let mut names: Vec<String> = described["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["IndexName"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Whether an existing view still fits its table: made after it, same indexes.
fn view_fits(table: &Value, view: &Value) -> bool {
    let created = |t: &Value| t["CreationDateTime"].as_f64().unwrap_or_default();
    created(view) >= created(table) && index_names(view) == index_names(table)
}

impl Shared {
    fn lag(&self) -> Option<Duration> {
        self.config().index_lag
    }

    /// The view of `table` (made and filled if needed), or `None` if the
    /// table has no GSI, is unknown, or lag is off.
    async fn view_of(&self, table: &str, headers: &HeaderMap) -> Option<String> {
        self.lag()?;
        let schema = self.schema(table, headers).await?;
        if schema.indexes.is_empty() {
            return None;
        }
        let cell = self.views.cell(table);
        cell.get_or_try_init(|| self.prepare_view(&schema, headers))
            .await
            .ok()
            .cloned()
            .flatten()
    }

    /// Finds the view of `schema`'s table, or makes it and copies the table into it.
    async fn prepare_view(
        &self,
        schema: &TableSchema,
        headers: &HeaderMap,
    ) -> Result<Option<String>, ()> {
        let Some(view) = view_name(&schema.name) else {
            return Ok(None);
        };
        // Its keys are known again only if this proxy fills it.
        self.views.forget_keys(&view);
        let upstream = self.config().upstream;
        let describe = |name: &str| {
            let upstream = upstream.clone();
            let body = json!({ "TableName": name });
            async move {
                self.upstream
                    .call(&upstream, headers, "DescribeTable", &body)
                    .await
            }
        };
        let table = describe(&schema.name).await.ok_or(())?;
        let again = self
            .views
            .recopy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&schema.name);
        if let Some(existing) = describe(&view).await {
            if !again && view_fits(&table["Table"], &existing["Table"]) {
                return Ok(Some(view));
            }
            self.views.drop_pending(&view);
            self.upstream
                .call(
                    &upstream,
                    headers,
                    "DeleteTable",
                    &json!({ "TableName": view }),
                )
                .await;
        }
        let definition = view_definition(&table["Table"], &view);
        let (status, answer) = self
            .upstream
            .request(&upstream, headers, "CreateTable", &definition)
            .await
            .ok_or(())?;
        if !status.is_success() {
            let in_use = answer["__type"]
                .as_str()
                .is_some_and(|t| t.ends_with("ResourceInUseException"));
            // Another proxy before the same DynamoDB Local made it meanwhile.
            return if in_use { Ok(Some(view)) } else { Err(()) };
        }
        let copied = self.copy_into_view(schema, &view, headers).await?;
        self.views.hold_keys(&view, copied);
        Ok(Some(view))
    }

    /// Copies every item of the table that is in an index into its new
    /// view; the keys of the items copied.
    async fn copy_into_view(
        &self,
        schema: &TableSchema,
        view: &str,
        headers: &HeaderMap,
    ) -> Result<Vec<String>, ()> {
        let upstream = self.config().upstream;
        let mut start: Option<Value> = None;
        let mut copied = Vec::new();
        loop {
            let mut scan = json!({ "TableName": schema.name, "ConsistentRead": true });
            if let Some(start) = start.take() {
                scan["ExclusiveStartKey"] = start;
            }
            let page = self
                .upstream
                .call(&upstream, headers, "Scan", &scan)
                .await
                .ok_or(())?;
            let items: Vec<ViewWrite> = page["Items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .filter(|item| in_an_index(schema, item))
                .map(|item| (schema.key_map(item), Some(item.clone())))
                .collect();
            for chunk in items.chunks(BATCH_WRITE_MAX) {
                if !self.write_view(view, chunk, headers).await {
                    return Err(());
                }
            }
            copied.extend(items.iter().map(|(key, _)| views::key_text(key)));
            match page.get("LastEvaluatedKey") {
                Some(key) if !key.is_null() => start = Some(key.clone()),
                _ => return Ok(copied),
            }
        }
    }

    /// Puts or deletes up to 25 items (distinct keys) in a view; whether every one was written.
    async fn write_view(&self, view: &str, items: &[ViewWrite], headers: &HeaderMap) -> bool {
        let upstream = self.config().upstream;
        let mut requests: Vec<Value> = items
            .iter()
            .map(|(key, image)| match image {
                Some(item) => json!({"PutRequest": {"Item": item}}),
                None => json!({"DeleteRequest": {"Key": key}}),
            })
            .collect();
        for round in 0..BATCH_ROUNDS {
            let body = json!({ "RequestItems": { view: requests } });
            let Some(answer) = self
                .upstream
                .call(&upstream, headers, "BatchWriteItem", &body)
                .await
            else {
                return false;
            };
            match answer["UnprocessedItems"][view].as_array() {
                Some(left) if !left.is_empty() => requests = left.clone(),
                _ => return true,
            }
            tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
        }
        false
    }

    /// Before forwarding a write: the writes whose results the view must
    /// learn, with their items locked; `None` if none (lag off, no view).
    pub(crate) async fn track_writes(
        &self,
        operation: &str,
        headers: &HeaderMap,
        forwarded: &Value,
    ) -> Option<Tracked<'_>> {
        self.lag()?;
        let request = forwarded.as_object()?;
        let mut tracked = Vec::new();
        for write in self.writes(operation, headers, request).await? {
            if write.action == "ConditionCheck" {
                continue;
            }
            if let Some(view) = self.view_of(&write.schema.name, headers).await {
                tracked.push((view, write));
            }
        }
        if tracked.is_empty() {
            return None;
        }
        let ids: Vec<ItemId> = tracked.iter().map(|(_, w)| w.id()).collect();
        let held = self.views.locks.lock(&ids).await;
        Some(Tracked {
            writes: tracked,
            _held: held,
        })
    }

    /// After the upstream answered a tracked write successfully: schedules
    /// each item's result for the view, a lag after `answered`.
    pub(crate) async fn record_writes(
        &self,
        tracked: Tracked<'_>,
        answer: &Value,
        headers: &HeaderMap,
        answered: Instant,
    ) {
        let Some(lag) = self.lag() else {
            return;
        };
        let unprocessed: HashSet<ItemId> = tracked
            .writes
            .iter()
            .filter(|(_, write)| {
                answer["UnprocessedItems"][&write.schema.name]
                    .as_array()
                    .is_some_and(|left| {
                        left.iter().any(|entry| {
                            let member = entry
                                .as_object()
                                .and_then(|e| e.values().next())
                                .and_then(Value::as_object);
                            let source = member.and_then(|m| m.get("Item").or(m.get("Key")));
                            source
                                .and_then(Value::as_object)
                                .is_some_and(|item| write.schema.key_map(item) == write.key)
                        })
                    })
            })
            .map(|(_, write)| write.id())
            .collect();
        let updated: Vec<&Write> = tracked
            .writes
            .iter()
            .map(|(_, write)| write)
            .filter(|write| write.action == "Update")
            .collect();
        let read_back = self.read_back(&updated, headers).await;
        let credentials = credentials(headers);
        for (view, write) in &tracked.writes {
            if unprocessed.contains(&write.id()) {
                continue;
            }
            let image = match write.action {
                "Put" => write
                    .request
                    .get("Item")
                    .and_then(Value::as_object)
                    .cloned(),
                "Update" => match &read_back {
                    Some(items) => items.get(&write.id()).cloned(),
                    None => {
                        self.counters.update(|s| s.index_view_failures += 1);
                        continue;
                    }
                },
                _ => None,
            };
            let image = image.filter(|item| in_an_index(&write.schema, item));
            self.views.schedule(Pending {
                due: answered + lag,
                seq: self.views.seq.fetch_add(1, AtomicOrdering::Relaxed),
                view: view.clone(),
                key: write.key.clone(),
                image,
                credentials: credentials.clone(),
            });
        }
    }

    /// The items of these updates as they are now (strongly consistent);
    /// `None` if the upstream did not answer.
    async fn read_back(
        &self,
        writes: &[&Write],
        headers: &HeaderMap,
    ) -> Option<HashMap<ItemId, Map<String, Value>>> {
        let mut found = HashMap::new();
        if writes.is_empty() {
            return Some(found);
        }
        let mut keys: Map<String, Value> = Map::new();
        for write in writes {
            let entry = keys
                .entry(write.schema.name.clone())
                .or_insert_with(|| json!({"Keys": [], "ConsistentRead": true}));
            if let Some(list) = entry["Keys"].as_array_mut() {
                list.push(Value::Object(write.key.clone()));
            }
        }
        let upstream = self.config().upstream;
        let mut request = json!({ "RequestItems": keys });
        for _ in 0..BATCH_ROUNDS {
            let answer = self
                .upstream
                .call(&upstream, headers, "BatchGetItem", &request)
                .await?;
            for write in writes {
                let items = answer["Responses"][&write.schema.name].as_array();
                if let Some(item) = items.into_iter().flatten().find(|item| {
                    item.as_object()
                        .is_some_and(|i| write.schema.key_map(i) == write.key)
                }) {
                    found.insert(write.id(), item.as_object().cloned().unwrap_or_default());
                }
            }
            match answer.get("UnprocessedKeys").and_then(Value::as_object) {
                Some(left) if !left.is_empty() => request = json!({ "RequestItems": left }),
                _ => return Some(found),
            }
        }
        None
    }

    /// The body to forward for an index read of a lagging table: the same
    /// request against the table's view, and the view's name (to put the
    /// table's back in the answer); `None` if it reads the table itself.
    pub(crate) async fn index_read(
        &self,
        operation: &str,
        headers: &HeaderMap,
        request: &Value,
    ) -> Option<(Value, String, String)> {
        if !matches!(operation, "Query" | "Scan") {
            return None;
        }
        self.lag()?;
        let table = request.get("TableName")?.as_str()?;
        let index = request.get("IndexName")?.as_str()?;
        let schema = self.schema(table, headers).await?;
        // A local secondary index is read from the table (it may be read strongly consistent).
        schema.index(index)?;
        let view = self.view_of(table, headers).await?;
        let mut rewritten = request.clone();
        rewritten["TableName"] = Value::String(view.clone());
        self.counters.update(|s| s.index_view_reads += 1);
        Some((rewritten, view, table.to_owned()))
    }

    /// After a successful `CreateTable`, `DeleteTable` or `UpdateTable`:
    /// the views are checked again on next use; a deleted table's view goes too.
    pub(crate) async fn table_changed(&self, operation: &str, headers: &HeaderMap, body: &Value) {
        self.views.forget();
        if operation != "DeleteTable" || self.lag().is_none() {
            return;
        }
        let Some(view) = body
            .get("TableName")
            .and_then(Value::as_str)
            .and_then(view_name)
        else {
            return;
        };
        self.views.drop_pending(&view);
        self.views.forget_keys(&view);
        let upstream = self.config().upstream;
        self.upstream
            .call(
                &upstream,
                headers,
                "DeleteTable",
                &json!({ "TableName": view }),
            )
            .await;
    }

    /// Gives each pending write to its view when it is due, until the proxy stops.
    pub(crate) async fn apply_to_views(self: Arc<Self>) {
        loop {
            match self.views.due(Instant::now()) {
                Ok(due) => self.apply(due).await,
                Err(next) => {
                    let woken = self.views.wake.notified();
                    match next {
                        Some(at) => {
                            tokio::select! {
                                _ = tokio::time::sleep_until(at) => {}
                                _ = woken => {}
                            }
                        }
                        None => woken.await,
                    }
                }
            }
        }
    }

    /// Writes these due items to their views in order, in batches of
    /// distinct keys.
    async fn apply(&self, due: Vec<Pending>) {
        let mut batch: Vec<Pending> = Vec::new();
        for pending in due {
            let full = batch.len() == BATCH_WRITE_MAX;
            let other_view = batch.first().is_some_and(|b| b.view != pending.view);
            let same_key = batch.iter().any(|b| b.key == pending.key);
            if full || other_view || same_key {
                self.flush(std::mem::take(&mut batch)).await;
            }
            batch.push(pending);
        }
        self.flush(batch).await;
    }

    async fn flush(&self, batch: Vec<Pending>) {
        let batch = self.views.needed(batch);
        let Some(first) = batch.first() else {
            return;
        };
        let items: Vec<ViewWrite> = batch
            .iter()
            .map(|p| (p.key.clone(), p.image.clone()))
            .collect();
        let written = self
            .write_view(&first.view, &items, &first.credentials)
            .await;
        self.views.done(batch.iter().map(|p| p.seq));
        let count = batch.len() as u64;
        self.counters.update(|s| {
            if written {
                s.index_view_writes += count;
            } else {
                s.index_view_failures += count;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_named_after_its_table_when_the_name_fits() {
        assert_eq!(
            view_name("clients").as_deref(),
            Some("clients.index-view.dynamodb-proxy")
        );
        assert!(is_view("clients.index-view.dynamodb-proxy"));
        assert_eq!(view_name(&"t".repeat(240)), None);
    }

    #[test]
    fn a_view_older_than_its_table_or_with_other_indexes_does_not_fit() {
        let table =
            json!({"CreationDateTime": 100.0, "GlobalSecondaryIndexes": [{"IndexName": "a"}]});
        let fits =
            json!({"CreationDateTime": 101.0, "GlobalSecondaryIndexes": [{"IndexName": "a"}]});
        let older =
            json!({"CreationDateTime": 99.0, "GlobalSecondaryIndexes": [{"IndexName": "a"}]});
        let other =
            json!({"CreationDateTime": 101.0, "GlobalSecondaryIndexes": [{"IndexName": "b"}]});

        assert!(view_fits(&table, &fits));
        assert!(!view_fits(&table, &older));
        assert!(!view_fits(&table, &other));
    }

    #[test]
    fn a_view_has_the_table_keys_and_indexes_and_nothing_else() {
        let table = json!({
            "TableName": "t", "ItemCount": 3,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingModeSummary": {"BillingMode": "PROVISIONED"},
            "GlobalSecondaryIndexes": [{
                "IndexName": "byG", "IndexArn": "arn", "IndexStatus": "ACTIVE",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}
            }]
        });

        assert_eq!(
            view_definition(&table, "v"),
            json!({
                "TableName": "v",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "GlobalSecondaryIndexes": [{
                    "IndexName": "byG",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"}
                }]
            })
        );
    }
}

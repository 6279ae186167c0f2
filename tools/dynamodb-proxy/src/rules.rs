//! The rules the proxy applies to each DynamoDB operation before forwarding
//! it: transaction conflicts (see [`crate::conflicts`]) and per-partition
//! throughput (see [`crate::cost`] and [`crate::throughput`]).
//!
//! Covered: `PutItem`, `UpdateItem`, `DeleteItem`, `TransactWriteItems`,
//! `BatchWriteItem` (writes); `GetItem`, `Query`, `BatchGetItem`,
//! `TransactGetItems` (reads). A batch's throttled items are returned
//! unprocessed (`UnprocessedItems` / `UnprocessedKeys`) and the rest
//! forwarded, as the service does; only when every item is throttled does
//! it answer the throttling error. `Scan` and the control plane pass
//! through unthrottled.

use std::collections::HashMap;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::Response;
use serde_json::{json, Map, Value};

use crate::conflicts::{ItemId, Refusal, Ticket};
use crate::cost::{self, Access, Charge};
use crate::schema::TableSchema;
use crate::size::{item_size, read_units};
use crate::state::Shared;
use crate::throughput::Limits;
use crate::wire::{self, Reason, ThrottlingReason};

/// The operations that write items.
pub(crate) const WRITE_OPERATIONS: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

/// Charges computed from the upstream's answer (a read's real size).
pub type AfterAnswer = Box<dyn FnOnce(&Value) -> Vec<Charge> + Send>;

/// What to do with a request.
pub enum Verdict {
    /// Answer this instead of forwarding.
    Answer(Response<Full<Bytes>>),
    /// Forward, as planned.
    Forward(Plan),
}

/// How to forward a request and what to do with its answer.
#[derive(Default)]
pub struct Plan {
    /// The body to forward instead of the client's (a batch without its throttled items).
    pub body: Option<Value>,
    /// The transaction's hold on its items, released when the answer comes.
    pub ticket: Option<Ticket>,
    /// Read charges known only from the answer.
    pub after: Option<AfterAnswer>,
    /// Items to add to the answer's `UnprocessedItems` or `UnprocessedKeys`.
    pub unprocessed: Option<(&'static str, Map<String, Value>)>,
}

/// One write of a write request: its table, the item's key, and what it does.
pub(crate) struct Write {
    pub(crate) schema: Arc<TableSchema>,
    pub(crate) key: Map<String, Value>,
    /// `Put`, `Update`, `Delete` or `ConditionCheck`.
    pub(crate) action: &'static str,
    /// The request's `Put`/`Update`/`Delete`/`ConditionCheck` member (or the
    /// batch's `PutRequest`/`DeleteRequest`).
    pub(crate) request: Map<String, Value>,
}

impl Write {
    pub(crate) fn id(&self) -> ItemId {
        (self.schema.name.clone(), self.schema.key_of(&self.key))
    }
}

fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn table_name(request: &Map<String, Value>) -> Option<&str> {
    request.get("TableName").and_then(Value::as_str)
}

impl Shared {
    /// The rules' verdict on one request.
    pub async fn verdict(&self, operation: &str, headers: &HeaderMap, body: &Value) -> Verdict {
        let config = self.config();
        let request = object(body);
        match operation {
            "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem" => {
                let Some(writes) = self.writes(operation, headers, &request).await else {
                    return Verdict::Forward(Plan::default());
                };
                let token = request
                    .get("ClientRequestToken")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.write_verdict(
                    operation,
                    headers,
                    writes,
                    token,
                    config.conflicts.is_some(),
                    config.throughput,
                )
                .await
            }
            "GetItem" | "Query" | "BatchGetItem" | "TransactGetItems" => {
                self.read_verdict(
                    operation,
                    headers,
                    &request,
                    config.conflicts.is_some(),
                    config.throughput,
                )
                .await
            }
            _ => Verdict::Forward(Plan::default()),
        }
    }

    /// The writes of a write request, or `None` if a table is unknown upstream.
    pub(crate) async fn writes(
        &self,
        operation: &str,
        headers: &HeaderMap,
        request: &Map<String, Value>,
    ) -> Option<Vec<Write>> {
        if !WRITE_OPERATIONS.contains(&operation) {
            return None;
        }
        let mut found: Vec<(String, &'static str, Map<String, Value>)> = Vec::new();
        match operation {
            "TransactWriteItems" => {
                for item in request.get("TransactItems")?.as_array()? {
                    let (action, member) = item.as_object()?.iter().next()?;
                    let action = match action.as_str() {
                        "Put" => "Put",
                        "Update" => "Update",
                        "Delete" => "Delete",
                        _ => "ConditionCheck",
                    };
                    found.push((
                        table_name(member.as_object()?)?.to_owned(),
                        action,
                        object(member),
                    ));
                }
            }
            "BatchWriteItem" => {
                for (table, requests) in request.get("RequestItems")?.as_object()? {
                    for write in requests.as_array()? {
                        let (action, member) = write.as_object()?.iter().next()?;
                        let action = if action == "PutRequest" {
                            "Put"
                        } else {
                            "Delete"
                        };
                        found.push((table.clone(), action, object(member)));
                    }
                }
            }
            _ => {
                let action = match operation {
                    "PutItem" => "Put",
                    "UpdateItem" => "Update",
                    _ => "Delete",
                };
                found.push((table_name(request)?.to_owned(), action, request.clone()));
            }
        }
        let mut writes = Vec::new();
        for (table, action, request) in found {
            let schema = self.schema(&table, headers).await?;
            let source = if action == "Put" {
                request.get("Item")
            } else {
                request.get("Key")
            };
            let key = schema.key_map(&object(source?));
            writes.push(Write {
                schema,
                key,
                action,
                request,
            });
        }
        Some(writes)
    }

    async fn write_verdict(
        &self,
        operation: &str,
        headers: &HeaderMap,
        writes: Vec<Write>,
        request_token: Option<String>,
        conflicts: bool,
        limits: Option<Limits>,
    ) -> Verdict {
        let ids: Vec<ItemId> = writes.iter().map(Write::id).collect();
        let transaction = operation == "TransactWriteItems";
        let mut ticket = None;
        if conflicts && transaction {
            let token = request_token.as_deref();
            match self.holds.acquire(&ids, token) {
                Ok(held) => ticket = Some(held),
                Err(Refusal::InProgress) => {
                    self.counters.update(|s| s.transactions_in_progress += 1);
                    return Verdict::Answer(wire::transaction_in_progress());
                }
                Err(Refusal::Conflict(conflicting)) => {
                    self.counters.update(|s| s.transactions_cancelled += 1);
                    let reasons: Vec<Reason> = conflicting
                        .iter()
                        .map(|c| {
                            if *c {
                                Reason::TransactionConflict
                            } else {
                                Reason::None
                            }
                        })
                        .collect();
                    return Verdict::Answer(wire::transaction_canceled(&reasons));
                }
            }
        } else if conflicts
            && operation != "BatchWriteItem"
            && ids.iter().any(|id| self.holds.is_held(id))
        {
            self.counters.update(|s| s.plain_conflicts += 1);
            return Verdict::Answer(wire::transaction_conflict());
        }
        let Some(limits) = limits else {
            return Verdict::Forward(Plan {
                ticket,
                ..Plan::default()
            });
        };
        let current = self.current_items(headers, &writes).await;
        let factor = if transaction { 2.0 } else { 1.0 };
        let charges: Vec<Vec<Charge>> = writes
            .iter()
            .map(|write| {
                let old = current.get(&write.id());
                let new = match write.action {
                    "Put" => Some(object(&write.request["Item"])),
                    "Update" => Some(cost::apply_update(old, &write.request)),
                    "ConditionCheck" => old.cloned(),
                    _ => None,
                };
                if write.action == "ConditionCheck" {
                    // Checked, not written: the item's own partition only.
                    let size = old.map_or(0, item_size);
                    return cost::charge(
                        &write.schema,
                        None,
                        &write.key,
                        Access::Write,
                        crate::size::write_units(size) * factor,
                    )
                    .into_iter()
                    .collect();
                }
                cost::write_charges(&write.schema, old, new.as_ref(), factor)
            })
            .collect();
        if operation == "BatchWriteItem" {
            return self.batch_verdict(&writes, &charges, &limits);
        }
        let all: Vec<Charge> = charges.iter().flatten().cloned().collect();
        match self.buckets.take(&all, &limits) {
            Ok(()) => Verdict::Forward(Plan {
                ticket,
                ..Plan::default()
            }),
            Err(short) => {
                if let Some(ticket) = ticket {
                    self.holds.release(ticket, std::time::Duration::ZERO);
                }
                let throttled = self.count_throttles(&all, &short);
                if !transaction {
                    return Verdict::Answer(wire::throttling(&throttled));
                }
                let mut offset = 0;
                let reasons: Vec<Reason> = charges
                    .iter()
                    .map(|item| {
                        let range = offset..offset + item.len();
                        offset += item.len();
                        match item.iter().zip(&short[range]).find(|(_, s)| **s) {
                            Some((charge, _)) => Reason::Throttling {
                                index: charge.partition.index.is_some(),
                            },
                            None => Reason::None,
                        }
                    })
                    .collect();
                Verdict::Answer(wire::transaction_canceled(&reasons))
            }
        }
    }

    /// Counts each throttled partition once and names its reason.
    fn count_throttles(&self, charges: &[Charge], short: &[bool]) -> Vec<ThrottlingReason> {
        let mut reasons: Vec<ThrottlingReason> = Vec::new();
        let mut seen = Vec::new();
        for (charge, _) in charges.iter().zip(short).filter(|(_, s)| **s) {
            if seen.contains(&charge.partition) {
                continue;
            }
            seen.push(charge.partition.clone());
            self.counters.throttled(charge.partition.label());
            reasons.push(ThrottlingReason {
                reason: charge.reason(),
                resource: charge.arn.clone(),
            });
        }
        reasons
    }

    /// A `BatchWriteItem`: each item admitted or returned unprocessed on its own.
    fn batch_verdict(&self, writes: &[Write], charges: &[Vec<Charge>], limits: &Limits) -> Verdict {
        let mut admitted: Map<String, Value> = Map::new();
        let mut unprocessed: Map<String, Value> = Map::new();
        let mut throttled = Vec::new();
        for (write, charges) in writes.iter().zip(charges) {
            let member = if write.action == "Put" {
                "PutRequest"
            } else {
                "DeleteRequest"
            };
            let entry = json!({ member: write.request });
            let target = match self.buckets.take(charges, limits) {
                Ok(()) => &mut admitted,
                Err(short) => {
                    throttled.extend(self.count_throttles(charges, &short));
                    &mut unprocessed
                }
            };
            push(target, &write.schema.name, entry);
        }
        batch_plan(
            "RequestItems",
            "UnprocessedItems",
            admitted,
            unprocessed,
            &throttled,
            |_, list| list,
        )
    }

    /// The current items of the writes' keys, read strongly consistent from the upstream.
    async fn current_items(
        &self,
        headers: &HeaderMap,
        writes: &[Write],
    ) -> HashMap<ItemId, Map<String, Value>> {
        let mut keys: Map<String, Value> = Map::new();
        let mut seen = Vec::new();
        for write in writes {
            if seen.contains(&write.id()) {
                continue;
            }
            seen.push(write.id());
            let entry = keys
                .entry(write.schema.name.clone())
                .or_insert_with(|| json!({"Keys": [], "ConsistentRead": true}));
            if let Some(list) = entry["Keys"].as_array_mut() {
                list.push(Value::Object(write.key.clone()));
            }
        }
        let mut items = HashMap::new();
        let upstream = self.config().upstream;
        let Some(answer) = self
            .upstream
            .call(
                &upstream,
                headers,
                "BatchGetItem",
                &json!({"RequestItems": keys}),
            )
            .await
        else {
            return items;
        };
        for write in writes {
            let found = answer["Responses"][&write.schema.name]
                .as_array()
                .and_then(|list| {
                    list.iter()
                        .find(|item| write.schema.key_map(&object(item)) == write.key)
                });
            if let Some(item) = found {
                items.insert(write.id(), object(item));
            }
        }
        items
    }

    async fn read_verdict(
        &self,
        operation: &str,
        headers: &HeaderMap,
        request: &Map<String, Value>,
        conflicts: bool,
        limits: Option<Limits>,
    ) -> Verdict {
        let consistent = |r: &Map<String, Value>| {
            r.get("ConsistentRead")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        match operation {
            "TransactGetItems" => {
                let mut gets = Vec::new();
                for item in request
                    .get("TransactItems")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let get = object(&item["Get"]);
                    let Some(schema) = self.table_of(&get, headers).await else {
                        return Verdict::Forward(Plan::default());
                    };
                    let key = object(&get["Key"]);
                    gets.push((schema, key));
                }
                if conflicts {
                    let held: Vec<bool> = gets
                        .iter()
                        .map(|(s, k)| self.holds.is_held(&(s.name.clone(), s.key_of(k))))
                        .collect();
                    if held.iter().any(|h| *h) {
                        self.counters.update(|s| s.transactions_cancelled += 1);
                        let reasons: Vec<Reason> = held
                            .iter()
                            .map(|h| {
                                if *h {
                                    Reason::TransactionConflict
                                } else {
                                    Reason::None
                                }
                            })
                            .collect();
                        return Verdict::Answer(wire::transaction_canceled(&reasons));
                    }
                }
                let Some(limits) = limits else {
                    return Verdict::Forward(Plan::default());
                };
                let prepaid = read_units(0, true) * 2.0;
                let charges: Vec<Charge> = gets
                    .iter()
                    .filter_map(|(s, k)| cost::charge(s, None, k, Access::Read, prepaid))
                    .collect();
                if let Err(short) = self.buckets.take(&charges, &limits) {
                    let reasons: Vec<Reason> = short
                        .iter()
                        .map(|s| {
                            if *s {
                                Reason::Throttling { index: false }
                            } else {
                                Reason::None
                            }
                        })
                        .collect();
                    self.count_throttles(&charges, &short);
                    return Verdict::Answer(wire::transaction_canceled(&reasons));
                }
                let after: AfterAnswer = Box::new(move |answer| {
                    gets.iter()
                        .enumerate()
                        .filter_map(|(i, (s, k))| {
                            let bytes = answer["Responses"][i]["Item"]
                                .as_object()
                                .map_or(0, item_size);
                            cost::charge(
                                s,
                                None,
                                k,
                                Access::Read,
                                read_units(bytes, true) * 2.0 - prepaid,
                            )
                        })
                        .collect()
                });
                Verdict::Forward(Plan {
                    after: Some(after),
                    ..Plan::default()
                })
            }
            _ if limits.is_none() => Verdict::Forward(Plan::default()),
            "GetItem" => {
                let Some(schema) = self.table_of(request, headers).await else {
                    return Verdict::Forward(Plan::default());
                };
                let (key, strong) = (object(&request["Key"]), consistent(request));
                self.single_read(schema, None, key, strong, limits, |answer| {
                    answer["Item"].as_object().map_or(0, item_size)
                })
            }
            "Query" => {
                let Some(schema) = self.table_of(request, headers).await else {
                    return Verdict::Forward(Plan::default());
                };
                let index = request
                    .get("IndexName")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let attribute = match &index {
                    Some(name) => match schema.index(name) {
                        Some(index) => index.partition_key.clone(),
                        None => return Verdict::Forward(Plan::default()),
                    },
                    None => schema.partition_key.clone(),
                };
                let Some(value) = partition_value(request, &attribute) else {
                    return Verdict::Forward(Plan::default());
                };
                let mut key = Map::new();
                key.insert(attribute, value);
                let strong = consistent(request);
                self.single_read(schema, index, key, strong, limits, |answer| {
                    answer["Items"]
                        .as_array()
                        .map_or(0, |items| items.iter().map(|i| item_size(&object(i))).sum())
                })
            }
            "BatchGetItem" => self.batch_get_verdict(headers, request, limits).await,
            _ => Verdict::Forward(Plan::default()),
        }
    }

    async fn table_of(
        &self,
        request: &Map<String, Value>,
        headers: &HeaderMap,
    ) -> Option<Arc<TableSchema>> {
        self.schema(table_name(request)?, headers).await
    }

    /// A one-partition read: admitted with its minimum, charged the rest from its answer.
    fn single_read(
        &self,
        schema: Arc<TableSchema>,
        index: Option<String>,
        key: Map<String, Value>,
        strong: bool,
        limits: Option<Limits>,
        bytes: impl Fn(&Value) -> u64 + Send + 'static,
    ) -> Verdict {
        let Some(limits) = limits else {
            return Verdict::Forward(Plan::default());
        };
        let prepaid = read_units(0, strong);
        let charge_of = move |units: f64| {
            let index = index.as_deref().and_then(|name| schema.index(name));
            cost::charge(&schema, index, &key, Access::Read, units)
        };
        let Some(first) = charge_of(prepaid) else {
            return Verdict::Forward(Plan::default());
        };
        if let Err(short) = self.buckets.take(std::slice::from_ref(&first), &limits) {
            return Verdict::Answer(wire::throttling(&self.count_throttles(&[first], &short)));
        }
        let after: AfterAnswer = Box::new(move |answer| {
            charge_of(read_units(bytes(answer), strong) - prepaid)
                .into_iter()
                .collect()
        });
        Verdict::Forward(Plan {
            after: Some(after),
            ..Plan::default()
        })
    }

    /// A `BatchGetItem`: each key admitted or returned unprocessed on its own.
    async fn batch_get_verdict(
        &self,
        headers: &HeaderMap,
        request: &Map<String, Value>,
        limits: Option<Limits>,
    ) -> Verdict {
        let Some(limits) = limits else {
            return Verdict::Forward(Plan::default());
        };
        let tables = object(&request["RequestItems"]);
        let mut schemas = HashMap::new();
        let (mut admitted, mut unprocessed) = (Map::new(), Map::new());
        let mut throttled = Vec::new();
        for (table, spec) in &tables {
            let Some(schema) = self.schema(table, headers).await else {
                return Verdict::Forward(Plan::default());
            };
            let strong = spec["ConsistentRead"].as_bool().unwrap_or(false);
            for key in spec["Keys"].as_array().into_iter().flatten() {
                let charges: Vec<Charge> = cost::charge(
                    &schema,
                    None,
                    &object(key),
                    Access::Read,
                    read_units(0, strong),
                )
                .into_iter()
                .collect();
                let target = match self.buckets.take(&charges, &limits) {
                    Ok(()) => &mut admitted,
                    Err(short) => {
                        throttled.extend(self.count_throttles(&charges, &short));
                        &mut unprocessed
                    }
                };
                push(target, table, key.clone());
            }
            schemas.insert(table.clone(), (schema, strong));
        }
        let respec = |table: &str, keys: Value| {
            let mut spec = object(&tables[table]);
            spec.insert("Keys".into(), keys);
            Value::Object(spec)
        };
        let verdict = batch_plan(
            "RequestItems",
            "UnprocessedKeys",
            admitted,
            unprocessed,
            &throttled,
            respec,
        );
        let Verdict::Forward(mut plan) = verdict else {
            return verdict;
        };
        plan.after = Some(Box::new(move |answer| {
            let mut charges = Vec::new();
            for (table, (schema, strong)) in &schemas {
                for item in answer["Responses"][table].as_array().into_iter().flatten() {
                    let item = object(item);
                    let units = read_units(item_size(&item), *strong) - read_units(0, *strong);
                    charges.extend(cost::charge(schema, None, &item, Access::Read, units));
                }
            }
            charges
        }));
        Verdict::Forward(plan)
    }
}

/// Appends `entry` to the list of `table` in a batch's per-table map.
fn push(target: &mut Map<String, Value>, table: &str, entry: Value) {
    if let Some(list) = target
        .entry(table.to_owned())
        .or_insert_with(|| json!([]))
        .as_array_mut()
    {
        list.push(entry);
    }
}

/// The verdict on a batch split into admitted and throttled items: the
/// throttling error if nothing is admitted, else the admitted items
/// forwarded (the request rewritten only if something was throttled) and
/// the rest added to the answer's `unprocessed_field`. `shape` turns a
/// table's list into the request's per-table value.
fn batch_plan(
    request_field: &str,
    unprocessed_field: &'static str,
    admitted: Map<String, Value>,
    unprocessed: Map<String, Value>,
    throttled: &[ThrottlingReason],
    shape: impl Fn(&str, Value) -> Value,
) -> Verdict {
    if admitted.is_empty() && !unprocessed.is_empty() {
        return Verdict::Answer(wire::throttling(throttled));
    }
    if unprocessed.is_empty() {
        return Verdict::Forward(Plan::default());
    }
    let reshape = |map: Map<String, Value>| -> Map<String, Value> {
        map.into_iter()
            .map(|(table, list)| {
                let value = shape(&table, list);
                (table, value)
            })
            .collect()
    };
    Verdict::Forward(Plan {
        body: Some(json!({ request_field: reshape(admitted) })),
        unprocessed: Some((unprocessed_field, reshape(unprocessed))),
        ..Plan::default()
    })
}

/// The value a `Query`'s key condition gives the partition key `attribute`.
fn partition_value(request: &Map<String, Value>, attribute: &str) -> Option<Value> {
    let expression = request.get("KeyConditionExpression")?.as_str()?;
    let names = request
        .get("ExpressionAttributeNames")
        .and_then(Value::as_object);
    let values = request.get("ExpressionAttributeValues")?.as_object()?;
    let spaced = expression.replace('=', " = ").replace(['(', ')'], " ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    tokens.windows(3).find_map(|w| {
        let name = names
            .and_then(|n| n.get(w[0]))
            .and_then(Value::as_str)
            .unwrap_or(w[0]);
        (w[1] == "=" && name == attribute).then(|| values.get(w[2]).cloned())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_condition_gives_the_partition_value_through_placeholders() {
        let request = object(&json!({
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :p)",
            "ExpressionAttributeNames": {"#pk": "statusPk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": {"S": "ORG#a#active"}, ":p": {"S": "C"}}
        }));

        assert_eq!(
            partition_value(&request, "statusPk"),
            Some(json!({"S": "ORG#a#active"}))
        );
        assert_eq!(partition_value(&request, "sk"), None);
    }
}

//! Counts what DynamoDB does for a request, as DynamoDB reports it.
//!
//! [`Meter`] is an SDK interceptor. Before each attempt is signed it adds
//! `ReturnConsumedCapacity: TOTAL` to the request (every operation the API
//! uses accepts it) and counts the call and the items it writes; after each
//! response it adds the items read (`ScannedCount` of a query, the item of a
//! `GetItem`, the items of a `BatchGetItem`) and the capacity units consumed.
//! Requests are measured one at a time: [`Meter::take`] returns and resets
//! the tally.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

/// What one or more DynamoDB calls cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub calls: u32,
    /// Index entries and items read (DynamoDB's `ScannedCount`, items returned by gets).
    pub read: u64,
    /// Items put, updated or deleted.
    pub written: u64,
    /// Capacity units DynamoDB reported (`ConsumedCapacity.CapacityUnits`).
    pub read_units: f64,
    pub write_units: f64,
    /// Operation names, in call order.
    pub operations: Vec<String>,
    /// The HTTP status when the request failed (e.g. 503 after DynamoDB timeouts).
    pub failed: Option<u16>,
}

#[derive(Debug, Clone, Default)]
pub struct Meter {
    tally: Arc<Mutex<Tally>>,
}

const READ_OPERATIONS: [&str; 5] = [
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "TransactGetItems",
];
const CAPACITY_OPERATIONS: [&str; 10] = [
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "TransactGetItems",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

impl Meter {
    /// The tally since the last call, reset.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().unwrap())
    }

    /// `client` with this meter on every call.
    pub fn wrap(&self, client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        let config = client
            .config()
            .to_builder()
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

fn written(operation: &str, request: &Value) -> u64 {
    match operation {
        "PutItem" | "UpdateItem" | "DeleteItem" => 1,
        "TransactWriteItems" => request["TransactItems"].as_array().map_or(0, |items| {
            items
                .iter()
                .filter(|i| i.get("ConditionCheck").is_none())
                .count() as u64
        }),
        "BatchWriteItem" => request["RequestItems"].as_object().map_or(0, |tables| {
            tables
                .values()
                .filter_map(Value::as_array)
                .map(|w| w.len() as u64)
                .sum()
        }),
        _ => 0,
    }
}

fn read(response: &Value) -> u64 {
    if let Some(scanned) = response.get("ScannedCount").and_then(Value::as_u64) {
        return scanned;
    }
    if response.get("Item").is_some() {
        return 1;
    }
    match response.get("Responses") {
        Some(Value::Object(tables)) => tables
            .values()
            .filter_map(Value::as_array)
            .map(|i| i.len() as u64)
            .sum(),
        Some(Value::Array(items)) => {
            items.iter().filter(|i| i.get("Item").is_some()).count() as u64
        }
        _ => 0,
    }
}

fn capacity_units(response: &Value) -> f64 {
    let units = |c: &Value| {
        c.get("CapacityUnits")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    match response.get("ConsumedCapacity") {
        Some(Value::Array(list)) => list.iter().map(units).sum(),
        Some(one @ Value::Object(_)) => units(one),
        _ => 0.0,
    }
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "bench-meter"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(cfg);
        let request = context.request_mut();
        let Some(mut body) = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Ok(());
        };
        {
            let mut tally = self.tally.lock().unwrap();
            tally.calls += 1;
            tally.written += written(&operation, &body);
            tally.operations.push(operation.clone());
        }
        if CAPACITY_OPERATIONS.contains(&operation.as_str())
            && body.get("ReturnConsumedCapacity").is_none()
        {
            body["ReturnConsumedCapacity"] = Value::String("TOTAL".into());
            let bytes = serde_json::to_vec(&body)?;
            request
                .headers_mut()
                .insert("content-length", bytes.len().to_string());
            *request.body_mut() = SdkBody::from(bytes);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(cfg);
        let Some(body) = context
            .response()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Ok(());
        };
        let units = capacity_units(&body);
        let mut tally = self.tally.lock().unwrap();
        tally.read += read(&body);
        if READ_OPERATIONS.contains(&operation.as_str()) {
            tally.read_units += units;
        } else {
            tally.write_units += units;
        }
        Ok(())
    }
}

//! What the upstream's answers say it did: items read and capacity units
//! consumed, read from each successful answer's JSON as it goes by, for the
//! [`crate::Summary`]. An independent count of what a client's own counter
//! should report (the API's `store::usage` reads the SDK's typed answers
//! instead; the tests compare the two).
//!
//! Items read: `ScannedCount` of a `Query` or `Scan`, the `Item` of a
//! `GetItem`, the items of a `BatchGetItem`'s `Responses` and the responses
//! with an `Item` of a `TransactGetItems`. Units: the `CapacityUnits` of
//! every `ConsumedCapacity` the answer carries (present only when the
//! request asked with `ReturnConsumedCapacity`), read units for the read
//! operations, write units for the others. Error answers report neither.

use std::collections::HashMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

/// The operations whose capacity is read capacity.
const READ_OPERATIONS: [&str; 5] = [
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactGetItems",
];

/// What one answer reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reported {
    /// Items and index entries read.
    pub items_read: u64,
    /// Read capacity units consumed.
    pub read_units: f64,
    /// Write capacity units consumed.
    pub write_units: f64,
}

/// The members of an answer that say what it read and consumed; the items
/// themselves are skipped, not kept.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Answer {
    scanned_count: Option<u64>,
    item: Option<IgnoredAny>,
    consumed_capacity: Option<Capacities>,
}

/// `ConsumedCapacity`: one object, or a list (batch and transaction operations).
#[derive(Deserialize)]
#[serde(untagged)]
enum Capacities {
    One(Capacity),
    Many(Vec<Capacity>),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Capacity {
    #[serde(default)]
    capacity_units: f64,
}

/// A `BatchGetItem` answer's items, per table.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct BatchGetResponses {
    responses: HashMap<String, Vec<IgnoredAny>>,
}

/// A `TransactGetItems` answer's responses, one per item asked.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TransactGetResponses {
    responses: Vec<Answer>,
}

/// What the successful answer `body` to `operation` reports (nothing for a
/// body that is not such an answer).
pub fn reported(operation: &str, body: &[u8]) -> Reported {
    let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
        return Reported::default();
    };
    let items_read = match operation {
        "Query" | "Scan" => answer.scanned_count.unwrap_or(0),
        "GetItem" => u64::from(answer.item.is_some()),
        "BatchGetItem" => serde_json::from_slice::<BatchGetResponses>(body)
            .map(|batch| {
                batch
                    .responses
                    .values()
                    .map(|items| items.len() as u64)
                    .sum()
            })
            .unwrap_or(0),
        "TransactGetItems" => serde_json::from_slice::<TransactGetResponses>(body)
            .map(|transact| {
                transact
                    .responses
                    .iter()
                    .filter(|response| response.item.is_some())
                    .count() as u64
            })
            .unwrap_or(0),
        _ => 0,
    };
    let units = match answer.consumed_capacity {
        None => 0.0,
        Some(Capacities::One(one)) => one.capacity_units,
        Some(Capacities::Many(many)) => many.iter().map(|c| c.capacity_units).sum(),
    };
    let (read_units, write_units) = if READ_OPERATIONS.contains(&operation) {
        (units, 0.0)
    } else {
        (0.0, units)
    };
    Reported {
        items_read,
        read_units,
        write_units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_report_their_items_and_read_units_and_writes_their_write_units() {
        let query = br#"{"Items":[{},{}],"Count":1,"ScannedCount":2,"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5}}"#;
        let get = br#"{"Item":{"pk":{"S":"a"}},"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#;
        let missing = br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#;
        let batch = br#"{"Responses":{"t":[{},{},{}]},"UnprocessedKeys":{},"ConsumedCapacity":[{"TableName":"t","CapacityUnits":3.0}]}"#;
        let transact_get = br#"{"Responses":[{"Item":{}},{}],"ConsumedCapacity":[{"CapacityUnits":2.0},{"CapacityUnits":2.0}]}"#;
        let transaction = br#"{"ConsumedCapacity":[{"TableName":"t","CapacityUnits":6.0}]}"#;
        let unasked = br#"{}"#;

        let read = |items_read, read_units| Reported {
            items_read,
            read_units,
            write_units: 0.0,
        };
        assert_eq!(reported("Query", query), read(2, 0.5));
        assert_eq!(reported("GetItem", get), read(1, 1.0));
        assert_eq!(reported("GetItem", missing), read(0, 1.0));
        assert_eq!(reported("BatchGetItem", batch), read(3, 3.0));
        assert_eq!(reported("TransactGetItems", transact_get), read(1, 4.0));
        assert_eq!(
            reported("TransactWriteItems", transaction),
            Reported {
                write_units: 6.0,
                ..Reported::default()
            }
        );
        assert_eq!(reported("PutItem", unasked), Reported::default());
        assert_eq!(reported("Query", b"not json"), Reported::default());
    }
}

//! What a request costs, and where: the capacity units each table or index
//! partition (partition key value) is charged for a write or a read.
//!
//! Writes (developer guide, "Read/write capacity units" and "Provisioned
//! throughput considerations for global secondary indexes"):
//! - a put or an update costs the larger of the item before and after, a
//!   delete the item deleted, in 1 KB units; a transaction twice that;
//! - each global secondary index the item is in before or after also
//!   writes: one write of its entry when the index keys stay the same, a
//!   delete of the old entry (in the old index partition) and a put of the
//!   new one (in the new) when they change, one of either when the item
//!   enters or leaves the index.
//!
//! The item before comes from the upstream (read by the proxy before it
//! forwards a write, see `lib.rs`): the request does not carry it, and an
//! estimate from the request alone would charge a delete one unit whatever
//! its size. The item after an `UpdateItem` is estimated by applying the
//! update expression's simple forms to the item before ([`apply_update`]):
//! `SET a = :v` assigns, `REMOVE a` removes, `ADD a :v` adds (keeps an
//! existing value's size), anything else keeps the current value; exact for
//! the forms the API uses (counts `ADD`, key revocation `SET`).

use serde_json::{Map, Value};

use crate::schema::{Index, TableSchema};
use crate::size::{item_size, write_units};

/// Reads or writes: each has its own limit and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read units.
    Read,
    /// Write units.
    Write,
}

/// One partition of a table or of one of its indexes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// The table's name.
    pub table: String,
    /// The index's name, for an index partition.
    pub index: Option<String>,
    /// The partition key's value, as attribute-value JSON.
    pub key: String,
}

impl Partition {
    /// `table/T pk={"S":"x"}` or `table/T/index/I g={"S":"y"}`, for summaries.
    pub fn label(&self) -> String {
        match &self.index {
            Some(index) => format!("table/{}/index/{index} {}", self.table, self.key),
            None => format!("table/{} {}", self.table, self.key),
        }
    }
}

/// Units charged to one partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Where.
    pub partition: Partition,
    /// Reads or writes.
    pub access: Access,
    /// How many units.
    pub units: f64,
    /// The ARN of the table or index, for the throttling answer.
    pub arn: String,
}

impl Charge {
    /// The service's throttling reason for this charge, e.g. `IndexWriteKeyRangeThroughputExceeded`.
    pub fn reason(&self) -> String {
        format!(
            "{}{}KeyRangeThroughputExceeded",
            if self.partition.index.is_some() {
                "Index"
            } else {
                "Table"
            },
            match self.access {
                Access::Read => "Read",
                Access::Write => "Write",
            }
        )
    }
}

/// The partition of the table (`index` `None`) or of an index that holds `item`.
pub fn partition(
    schema: &TableSchema,
    index: Option<&Index>,
    item: &Map<String, Value>,
) -> Option<Partition> {
    let attribute = index.map_or(&schema.partition_key, |i| &i.partition_key);
    Some(Partition {
        table: schema.name.clone(),
        index: index.map(|i| i.name.clone()),
        key: item.get(attribute)?.to_string(),
    })
}

/// A charge of `units` to the partition of the table or index that holds `item`.
pub fn charge(
    schema: &TableSchema,
    index: Option<&Index>,
    item: &Map<String, Value>,
    access: Access,
    units: f64,
) -> Option<Charge> {
    Some(Charge {
        partition: partition(schema, index, item)?,
        access,
        units,
        arn: index.map_or(&schema.arn, |i| &i.arn).clone(),
    })
}

/// The write charges of replacing `old` by `new` (either absent), times
/// `factor` (2 for a transaction).
pub fn write_charges(
    schema: &TableSchema,
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
    factor: f64,
) -> Vec<Charge> {
    let size = old.map_or(0, item_size).max(new.map_or(0, item_size));
    let mut charges: Vec<Charge> = new
        .or(old)
        .and_then(|item| {
            charge(
                schema,
                None,
                item,
                Access::Write,
                write_units(size) * factor,
            )
        })
        .into_iter()
        .collect();
    for index in &schema.indexes {
        let before = old.and_then(|item| Some((item, index.entry_size(schema, item)?)));
        let after = new.and_then(|item| Some((item, index.entry_size(schema, item)?)));
        let index_keys = |item: &Map<String, Value>| {
            (
                item.get(&index.partition_key).cloned(),
                index.sort_key.as_ref().and_then(|s| item.get(s).cloned()),
            )
        };
        let writes = match (before, after) {
            (Some((o, o_size)), Some((n, n_size))) if index_keys(o) == index_keys(n) => {
                vec![(n, o_size.max(n_size))]
            }
            (before, after) => before.into_iter().chain(after).collect(),
        };
        charges.extend(writes.into_iter().filter_map(|(item, bytes)| {
            charge(
                schema,
                Some(index),
                item,
                Access::Write,
                write_units(bytes) * factor,
            )
        }));
    }
    charges
}

/// The top-level attribute a document path starts with, names resolved.
fn top_attribute(path: &str, names: Option<&Map<String, Value>>) -> String {
    let head = path
        .trim()
        .split(['.', '['])
        .next()
        .unwrap_or_default()
        .trim();
    names
        .and_then(|names| names.get(head))
        .and_then(Value::as_str)
        .unwrap_or(head)
        .to_owned()
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The update expression's clauses: (keyword, body), keywords upper-cased.
fn clauses(expression: &str) -> Vec<(String, String)> {
    let mut clauses: Vec<(String, String)> = Vec::new();
    for word in expression.split_whitespace() {
        let upper = word.to_ascii_uppercase();
        if matches!(upper.as_str(), "SET" | "REMOVE" | "ADD" | "DELETE") {
            clauses.push((upper, String::new()));
        } else if let Some((_, body)) = clauses.last_mut() {
            body.push(' ');
            body.push_str(word);
        }
    }
    clauses
}

/// The item after an `UpdateItem` (or transaction `Update`) request, estimated
/// from the item before (or the request's key if there is none).
pub fn apply_update(
    old: Option<&Map<String, Value>>,
    request: &Map<String, Value>,
) -> Map<String, Value> {
    let mut item = old.cloned().unwrap_or_else(|| {
        request
            .get("Key")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    });
    let names = request
        .get("ExpressionAttributeNames")
        .and_then(Value::as_object);
    let values = request
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object);
    let value_of = |operand: &str| {
        let placeholder = operand
            .split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '_'))
            .find(|t| t.starts_with(':'))?;
        values?.get(placeholder).cloned()
    };
    let expression = request
        .get("UpdateExpression")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for (keyword, body) in clauses(expression) {
        for action in split_top_level(&body) {
            match keyword.as_str() {
                "SET" => {
                    let Some((path, operand)) = action.split_once('=') else {
                        continue;
                    };
                    let name = top_attribute(path, names);
                    let computed = operand.contains("if_not_exists")
                        || operand.contains('+')
                        || operand.contains('-');
                    if computed && item.contains_key(&name) {
                        continue;
                    }
                    if let Some(value) = value_of(operand) {
                        item.insert(name, value);
                    }
                }
                "REMOVE" => {
                    item.remove(&top_attribute(action, names));
                }
                "ADD" => {
                    let mut parts = action.split_whitespace();
                    let name = top_attribute(parts.next().unwrap_or_default(), names);
                    if !item.contains_key(&name) {
                        if let Some(value) = parts.next().and_then(value_of) {
                            item.insert(name, value);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> TableSchema {
        crate::schema::example("ALL")
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_transactional_put_into_an_index_costs_twice_in_the_table_and_the_index() {
        let new = object(json!({"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "x"}}));

        let charges = write_charges(&schema(), None, Some(&new), 2.0);

        assert_eq!(charges.len(), 2);
        assert_eq!(charges[0].partition.label(), r#"table/t {"S":"a"}"#);
        assert_eq!(
            charges[1].partition.label(),
            r#"table/t/index/byG {"S":"x"}"#
        );
        assert!(charges.iter().all(|c| c.units == 2.0));
        assert_eq!(charges[1].reason(), "IndexWriteKeyRangeThroughputExceeded");
    }

    #[test]
    fn changing_an_index_key_deletes_from_the_old_partition_and_puts_into_the_new() {
        let old = object(json!({"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "x"}}));
        let new = object(json!({"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "y"}}));

        let charges = write_charges(&schema(), Some(&old), Some(&new), 1.0);

        let labels: Vec<String> = charges.iter().map(|c| c.partition.label()).collect();
        assert_eq!(
            labels[1..],
            [
                r#"table/t/index/byG {"S":"x"}"#,
                r#"table/t/index/byG {"S":"y"}"#
            ]
        );
    }

    #[test]
    fn a_delete_costs_the_size_of_the_item_deleted() {
        let old =
            object(json!({"pk": {"S": "a"}, "sk": {"S": "1"}, "blob": {"S": "x".repeat(3000)}}));

        let charges = write_charges(&schema(), Some(&old), None, 1.0);

        assert_eq!(charges.len(), 1);
        assert_eq!(charges[0].units, 3.0);
    }

    #[test]
    fn an_update_sets_adds_and_removes_top_level_attributes() {
        let old = object(json!({"pk": {"S": "a"}, "gone": {"S": "x"}, "n": {"N": "1"}}));
        let request = object(json!({
            "UpdateExpression": "SET #g = :g ADD n :one, fresh :one REMOVE gone",
            "ExpressionAttributeNames": {"#g": "g"},
            "ExpressionAttributeValues": {":g": {"S": "y"}, ":one": {"N": "1"}}
        }));

        let new = apply_update(Some(&old), &request);

        assert_eq!(
            Value::Object(new),
            json!({"pk": {"S": "a"}, "n": {"N": "1"}, "g": {"S": "y"}, "fresh": {"N": "1"}})
        );
    }
}

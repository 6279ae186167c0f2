//! Item sizes and capacity units, computed as DynamoDB computes them.
//!
//! Source: the developer guide's "Item sizes and formats"
//! (docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)
//! and "Read/write capacity units":
//! - an item's size is the sum, over its attributes, of the name's UTF-8
//!   length plus the value's size;
//! - a string is its UTF-8 length; a binary its raw length (base64-decoded
//!   on the wire); a number about one byte per two significant digits plus
//!   one; a boolean or null one byte; a list or map three bytes plus, per
//!   element, one byte and the element's size (a map's element also its
//!   name); a set the sum of its elements' sizes;
//! - one write unit per 1 KB (rounded up) written, twice for a transaction;
//!   one read unit per 4 KB (rounded up) read strongly consistent, half for
//!   eventually consistent, twice for a transaction; a `Query` rounds the
//!   sum of the items it reads, a `BatchGetItem` each item.

use serde_json::{Map, Value};

/// The size in bytes of an item in the wire's attribute-value JSON.
pub fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

/// The size in bytes of one attribute value (`{"S": "…"}` and the like).
pub fn value_size(value: &Value) -> u64 {
    let Some((kind, inner)) = value.as_object().and_then(|v| v.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => s.len() as u64,
        ("N", Value::String(n)) => number_size(n),
        ("B", Value::String(b)) => base64_len(b),
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.len() as u64)
            .sum(),
        ("NS", Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(number_size)
            .sum(),
        ("BS", Value::Array(items)) => items.iter().filter_map(Value::as_str).map(base64_len).sum(),
        ("L", Value::Array(items)) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        ("M", Value::Object(map)) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() as u64 + value_size(v))
                .sum::<u64>()
        }
        _ => 0,
    }
}

/// About one byte per two significant digits, plus one.
fn number_size(number: &str) -> u64 {
    let digits: String = number
        .chars()
        .take_while(|c| *c != 'e' && *c != 'E')
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1) as u64;
    significant.div_ceil(2) + 1
}

/// The decoded length of a base64 string.
fn base64_len(text: &str) -> u64 {
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count() as u64;
    (text.len() as u64 / 4 * 3).saturating_sub(padding)
}

/// Write units for writing an item of `bytes` (1 KB each, at least one).
pub fn write_units(bytes: u64) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// Read units for reading `bytes` (4 KB each, at least one; half if eventually consistent).
pub fn read_units(bytes: u64, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn an_item_counts_names_and_values() {
        let client = item(json!({"pk": {"S": "ORG#a"}, "n": {"N": "12345"}, "ok": {"BOOL": true}}));

        // pk: 2 + 5; n: 1 + (3 + 1); ok: 2 + 1
        assert_eq!(item_size(&client), 7 + 5 + 3);
    }

    #[test]
    fn nested_values_carry_their_overhead() {
        let nested = item(
            json!({"m": {"M": {"a": {"S": "xy"}}}, "l": {"L": [{"NULL": true}]}, "b": {"B": "AAEC"}}),
        );

        // m: 1 + 3 + (1 + 1 + 2); l: 1 + 3 + (1 + 1); b: 1 + 3
        assert_eq!(item_size(&nested), 8 + 6 + 4);
    }

    #[test]
    fn units_round_up_per_kilobyte_and_per_four_kilobytes() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(100, false), 0.5);
    }
}

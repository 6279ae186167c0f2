//! A checker of CloudWatch Embedded Metric Format records, after the
//! specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>)
//! and the limits AWS's own EMF client libraries validate
//! (`aws-embedded-metrics-python`/`-node` `constants` and `validator`):
//!
//! - the log event is one JSON object; its `_aws` member is an object with
//!   `Timestamp` (epoch milliseconds, at most 14 days old and 2 hours ahead)
//!   and `CloudWatchMetrics`, an array of metric directives;
//! - a directive has exactly `Namespace` (1–1024 characters of
//!   `a-zA-Z0-9._#:/-`), `Dimensions` (an array of dimension sets, each an
//!   array of at most 30 dimension names) and `Metrics` (1–100 definitions of
//!   `Name` and optionally `Unit` and `StorageResolution`);
//! - every dimension named is a root member holding a non-blank ASCII
//!   string of at most 1,024 characters; every metric named is a root
//!   member holding a number or an array of at most 100 numbers; a unit is
//!   one of CloudWatch's `StandardUnit` names.

use serde_json::{Map, Value};

/// CloudWatch's standard units (`MetricDatum.Unit`).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One metric a record defines: its directive's namespace and dimension
/// sets, its name and unit, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct EmfMetric {
    /// The directive's namespace.
    pub namespace: String,
    /// The directive's dimension sets, each resolved to `(name, value)` pairs.
    pub dimension_sets: Vec<Vec<(String, String)>>,
    /// The metric's name.
    pub name: String,
    /// Its unit, if given.
    pub unit: Option<String>,
    /// Its value (a number or an array of numbers).
    pub value: Value,
}

/// The metrics of a log line, if it is an EMF record; `Err` says which rule
/// it breaks; `Ok(None)` for a line that is no EMF record (no `_aws`).
pub fn parse_emf(line: &str, now_ms: i64) -> Result<Option<Vec<EmfMetric>>, String> {
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(line.trim()) else {
        return Ok(None);
    };
    let Some(aws) = root.get("_aws") else {
        return Ok(None);
    };
    let aws = aws.as_object().ok_or("_aws is not an object")?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_i64)
        .ok_or("_aws.Timestamp is not an integer")?;
    let age = now_ms - timestamp;
    if !(-2 * 3_600_000..=14 * 86_400_000).contains(&age) {
        return Err(format!("_aws.Timestamp {timestamp} is out of range"));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    let mut metrics = Vec::new();
    for directive in directives {
        metrics.extend(parse_directive(directive, &root)?);
    }
    Ok(Some(metrics))
}

fn parse_directive(directive: &Value, root: &Map<String, Value>) -> Result<Vec<EmfMetric>, String> {
    let directive = directive
        .as_object()
        .ok_or("a directive is not an object")?;
    if let Some(extra) = directive
        .keys()
        .find(|k| !["Namespace", "Dimensions", "Metrics"].contains(&k.as_str()))
    {
        return Err(format!("a directive has the unknown member {extra}"));
    }
    let namespace = directive
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|ns| (1..=1024).contains(&ns.len()))
        .filter(|ns| {
            ns.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._#:/-".contains(c))
        })
        .ok_or("Namespace is missing or not 1-1024 characters of a-zA-Z0-9._#:/-")?;
    let dimension_sets = directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or("Dimensions is not an array")?
        .iter()
        .map(|set| dimension_set(set, root))
        .collect::<Result<Vec<_>, _>>()?;
    let definitions = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .filter(|m| (1..=100).contains(&m.len()))
        .ok_or("Metrics is not an array of 1-100 definitions")?;
    definitions
        .iter()
        .map(|definition| {
            let (name, unit) = metric_definition(definition)?;
            let value = metric_value(root, &name)?;
            Ok(EmfMetric {
                namespace: namespace.to_owned(),
                dimension_sets: dimension_sets.clone(),
                name,
                unit,
                value,
            })
        })
        .collect()
}

fn dimension_set(set: &Value, root: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let names = set.as_array().ok_or("a dimension set is not an array")?;
    if names.len() > 30 {
        return Err("a dimension set has more than 30 dimensions".into());
    }
    names
        .iter()
        .map(|name| {
            let name = name
                .as_str()
                .filter(|n| (1..=250).contains(&n.len()) && n.is_ascii() && !n.starts_with(':'))
                .ok_or("a dimension name is not 1-250 ASCII characters")?;
            let value = root
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| (1..=1024).contains(&v.len()) && v.is_ascii() && !v.trim().is_empty())
                .ok_or_else(|| {
                    format!("dimension {name} is no root string of 1-1024 ASCII characters")
                })?;
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn metric_definition(definition: &Value) -> Result<(String, Option<String>), String> {
    let definition = definition
        .as_object()
        .ok_or("a metric definition is not an object")?;
    if let Some(extra) = definition
        .keys()
        .find(|k| !["Name", "Unit", "StorageResolution"].contains(&k.as_str()))
    {
        return Err(format!(
            "a metric definition has the unknown member {extra}"
        ));
    }
    let name = definition
        .get("Name")
        .and_then(Value::as_str)
        .filter(|n| (1..=1024).contains(&n.len()))
        .ok_or("a metric Name is missing or longer than 1024")?;
    let unit = match definition.get("Unit") {
        None => None,
        Some(unit) => Some(
            unit.as_str()
                .filter(|u| UNITS.contains(u))
                .ok_or_else(|| format!("metric {name} has the unknown unit {unit}"))?
                .to_owned(),
        ),
    };
    if let Some(resolution) = definition.get("StorageResolution") {
        if ![1, 60].contains(&resolution.as_i64().unwrap_or(0)) {
            return Err(format!("metric {name}: StorageResolution must be 1 or 60"));
        }
    }
    Ok((name.to_owned(), unit))
}

fn metric_value(root: &Map<String, Value>, name: &str) -> Result<Value, String> {
    match root.get(name) {
        Some(value @ Value::Number(_)) => Ok(value.clone()),
        Some(Value::Array(values))
            if values.len() <= 100 && values.iter().all(Value::is_number) =>
        {
            Ok(Value::Array(values.clone()))
        }
        _ => Err(format!(
            "metric {name} has no number (or array of at most 100 numbers) at the root"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn record(directives: Value, members: Value) -> String {
        let mut root = members;
        root["_aws"] = serde_json::json!({"Timestamp": NOW, "CloudWatchMetrics": directives});
        root.to_string()
    }

    #[test]
    fn a_valid_record_yields_its_metrics_with_resolved_dimensions() {
        let line = record(
            serde_json::json!([{"Namespace": "App/dev", "Dimensions": [["Route"], []],
                "Metrics": [{"Name": "Requests", "Unit": "Count"}]}]),
            serde_json::json!({"Route": "GET /x", "Requests": 1}),
        );

        let metrics = parse_emf(&line, NOW).unwrap().unwrap();

        assert_eq!(metrics.len(), 1);
        assert_eq!(
            metrics[0].dimension_sets,
            vec![vec![("Route".to_owned(), "GET /x".to_owned())], vec![]]
        );
        assert_eq!(metrics[0].unit.as_deref(), Some("Count"));
    }

    #[test]
    fn records_breaking_a_rule_are_refused_and_plain_lines_are_no_records() {
        let directive = |unit: &str, dimension: &str| {
            serde_json::json!([{"Namespace": "App", "Dimensions": [[dimension]],
                "Metrics": [{"Name": "M", "Unit": unit}]}])
        };
        let members = serde_json::json!({"Route": "r", "M": 1});

        assert!(parse_emf(
            &record(directive("Furlongs", "Route"), members.clone()),
            NOW
        )
        .is_err());
        assert!(parse_emf(&record(directive("Count", "Missing"), members.clone()), NOW).is_err());
        assert!(parse_emf(
            &record(
                directive("Count", "Route"),
                serde_json::json!({"Route": "r", "M": "1"})
            ),
            NOW
        )
        .is_err());
        assert!(parse_emf(
            &record(directive("Count", "Route"), members),
            NOW - 15 * 86_400_000
        )
        .is_err());
        assert_eq!(parse_emf("START RequestId: x", NOW), Ok(None));
        assert_eq!(parse_emf(r#"{"level":"INFO"}"#, NOW), Ok(None));
    }
}

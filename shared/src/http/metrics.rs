//! The per-request metrics, as one CloudWatch Embedded Metric Format (EMF)
//! log line: CloudWatch Logs turns it into metrics, with no API call on the
//! request's path and no extra permission.
//!
//! Specification: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//! One JSON object per line: `_aws.Timestamp` (epoch milliseconds) and
//! `_aws.CloudWatchMetrics`, a list of directives (namespace, dimension
//! sets, metric names and units) whose dimension and metric values are
//! members of the root object.
//!
//! One directive, so that cardinality is bounded by the code, never by the
//! number of tenants: `Requests`, `Latency`, `ClientErrors`,
//! `ServerErrors`, `RateLimited` (429 `rate_limited`), `DynamoDbCalls`,
//! `ItemsRead`, `ReadCapacityUnits` and `WriteCapacityUnits` (the
//! request's [`Usage`]) by `Route` (six routes, fixed by the code) and with
//! no dimension (the service-wide figure the alarms watch). No metric has
//! an organization dimension: CloudWatch bills every custom metric (each
//! dimension value is one), so a per-tenant metric would cost per tenant.
//!
//! The organization is a plain member of every record (`Organization`,
//! once the key was accepted), as it is of the closing log line: operators
//! see requests, 429s and capacity units per organization through the
//! Contributor Insights rules of `template.yaml` and Logs Insights
//! (`docs/operations.md`), at a cost that does not grow with the tenants.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use crate::domain::model::OrgId;
use crate::store::usage::Usage;

/// What one request did, as the metrics report it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics {
    /// The route, e.g. `GET /clients/{id}`.
    pub route: String,
    /// The caller's organization, once its key was accepted.
    pub organization: Option<OrgId>,
    /// The HTTP status answered.
    pub status: u16,
    /// From the event's arrival to the response.
    pub latency: Duration,
    /// What DynamoDB did for it.
    pub usage: Usage,
    /// The API Gateway request id.
    pub request_id: String,
}

/// The dimension sets of the per-route metrics: by route, and service-wide.
const ROUTE_DIMENSIONS: [&[&str]; 2] = [&["Route"], &[]];

impl RequestMetrics {
    /// The EMF record, in `namespace`, stamped `timestamp_ms`.
    pub fn to_emf(&self, namespace: &str, timestamp_ms: i64) -> Value {
        let metric = |name: &str, unit: &str| json!({"Name": name, "Unit": unit});
        let directives = vec![json!({
            "Namespace": namespace,
            "Dimensions": ROUTE_DIMENSIONS,
            "Metrics": [
                metric("Requests", "Count"),
                metric("Latency", "Milliseconds"),
                metric("ClientErrors", "Count"),
                metric("ServerErrors", "Count"),
                metric("RateLimited", "Count"),
                metric("DynamoDbCalls", "Count"),
                metric("ItemsRead", "Count"),
                metric("ReadCapacityUnits", "Count"),
                metric("WriteCapacityUnits", "Count"),
            ],
        })];
        let mut record = json!({
            "Route": self.route,
            "Requests": 1,
            "Latency": (self.latency.as_secs_f64() * 1e3 * 1e3).round() / 1e3,
            "ClientErrors": u8::from((400..500).contains(&self.status)),
            "ServerErrors": u8::from(self.status >= 500),
            "RateLimited": u8::from(self.status == 429),
            "DynamoDbCalls": self.usage.calls,
            "ItemsRead": self.usage.items_read,
            "ReadCapacityUnits": self.usage.read_units,
            "WriteCapacityUnits": self.usage.write_units,
            "status": self.status,
            "dynamodbRetries": self.usage.retries,
            "requestId": self.request_id,
        });
        if let Some(org) = &self.organization {
            // A member, not a dimension: searchable, and no metric per tenant.
            record["Organization"] = json!(org.as_str());
        }
        record["_aws"] = json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives});
        record
    }

    /// Writes the record to standard output as one line, where Lambda sends
    /// it to the function's log group.
    pub fn emit(&self, namespace: &str) {
        let line = self
            .to_emf(namespace, chrono::Utc::now().timestamp_millis())
            .to_string();
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(status: u16, organization: Option<&str>) -> RequestMetrics {
        RequestMetrics {
            route: "GET /clients".into(),
            organization: organization.map(|o| o.parse().unwrap()),
            status,
            latency: Duration::from_micros(12_345),
            usage: Usage {
                calls: 3,
                items_read: 52,
                read_units: 2.5,
                ..Usage::default()
            },
            request_id: "req-1".into(),
        }
    }

    #[test]
    fn a_served_request_counts_once_by_route_and_service_wide() {
        let record = metrics(200, Some("acme")).to_emf("ClientsApi/test", 1_700_000_000_000);

        let directives = record["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1, "no per-organization directive");
        assert_eq!(directives[0]["Dimensions"], json!([["Route"], []]));
        assert_eq!(record["Route"], "GET /clients");
        assert_eq!(record["Organization"], "acme");
        assert_eq!(record["Requests"], 1);
        assert_eq!(record["Latency"], 12.345);
        assert_eq!(record["DynamoDbCalls"], 3);
        assert_eq!(record["ItemsRead"], 52);
        assert_eq!(record["ReadCapacityUnits"], 2.5);
        assert_eq!(record["WriteCapacityUnits"], 0.0);
        assert_eq!(record["ClientErrors"], 0);
        assert_eq!(record["ServerErrors"], 0);
    }

    #[test]
    fn errors_are_counted_by_class_and_anonymous_requests_have_no_organization() {
        let refused = metrics(401, None).to_emf("ns", 0);
        let failed = metrics(503, Some("acme")).to_emf("ns", 0);
        let limited = metrics(429, Some("acme")).to_emf("ns", 0);

        assert_eq!(refused["ClientErrors"], 1);
        assert_eq!(refused["RateLimited"], 0);
        assert_eq!(limited["RateLimited"], 1);
        assert_eq!(limited["ClientErrors"], 1);
        assert_eq!(
            limited["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Route"], []])
        );
        assert!(refused.get("Organization").is_none());
        assert_eq!(failed["ServerErrors"], 1);
        assert_eq!(failed["ClientErrors"], 0);
    }
}

//! What operators see: the function binaries, run under AWS's Runtime
//! Interface Emulator with Lambda's JSON log format and a metrics namespace
//! (as `template.yaml` configures them), answer the `events/` payloads, and
//! their real standard output is read back as CloudWatch Logs would get it.
//!
//! - Every invocation writes exactly one CloudWatch EMF record, valid by the
//!   specification ([`integration_tests::emf`]), with the metrics, units and
//!   dimension sets of the contract (`shared::http::metrics`), the route and
//!   the status answered, and the organization only once a key was accepted.
//! - Every tracing line written during a request carries its request id and
//!   route (and organization once known); the closing `request served` line
//!   has the status and the latency.
//! - Nothing in the output shows the API key, the request bodies, the name,
//!   the phone number (as given or as digits) or the notes.

use std::collections::{BTreeMap, BTreeSet};

use integration_tests::emf::{parse_emf, EmfMetric};
use integration_tests::{repo_root, TestApi, PLACEHOLDER_ID, PLACEHOLDER_KEY, TEST_TABLE};
use lambda_harness::binary_path;
use lambda_harness::rie::RieFunction;
use serde_json::{json, Value};

const NAMESPACE: &str = "ClientsApi/test";
const SECRET_NAME: &str = "Quentin Observed";
const SECRET_PHONE: &str = "+1 (555) 017-2846";
const SECRET_DIGITS: &str = "15550172846";
const SECRET_NOTES: &str = "prefers calls after 6pm ZQX";

/// The metrics every record has, by route and service-wide, with their units.
const ROUTE_METRICS: [(&str, &str); 9] = [
    ("Requests", "Count"),
    ("Latency", "Milliseconds"),
    ("ClientErrors", "Count"),
    ("ServerErrors", "Count"),
    ("RateLimited", "Count"),
    ("DynamoDbCalls", "Count"),
    ("ItemsRead", "Count"),
    ("ReadCapacityUnits", "Count"),
    ("WriteCapacityUnits", "Count"),
];

/// `events/<file>` with a real key and id, and optionally another body.
fn event(file: &str, key: &str, id: &str, body: Option<&Value>) -> Value {
    let text = std::fs::read_to_string(repo_root().join("events").join(file)).expect(file);
    let mut event: Value = serde_json::from_str(
        &text
            .replace(PLACEHOLDER_KEY, key)
            .replace(PLACEHOLDER_ID, id),
    )
    .expect("an event");
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    event
}

/// A function binary under the RIE, configured as the template configures it.
async fn start(function: &str) -> RieFunction {
    let env = [
        ("TABLE_NAME", TEST_TABLE),
        ("DEFAULT_PLAN", "local"),
        ("METRICS_NAMESPACE", NAMESPACE),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ];
    RieFunction::start(binary_path(function), &env, &["RUST_LOG"]).await
}

/// Invokes `event` and returns the API Gateway response payload.
async fn invoke(function: &mut RieFunction, event: &Value) -> Value {
    let answer = function.invoke(event).await;
    assert_eq!(answer.status, 200, "{answer:?}\n{}", function.output());
    answer.payload()
}

/// One request as the logs show it: its EMF metrics and its tracing lines.
struct Observed {
    status: u64,
    metrics: Vec<EmfMetric>,
    record: Value,
    lines: Vec<Value>,
}

/// What the scenario left in the logs.
struct Scenario {
    /// Each request's route and what it logged, in order.
    observed: Vec<(&'static str, Observed)>,
    /// The functions' standard output.
    output: String,
    /// Everything the RIEs and the functions printed.
    everything: String,
    /// The API key the requests used.
    key: String,
}

/// The scenario, run once for all the tests of this file.
async fn scenario() -> &'static Scenario {
    static SCENARIO: tokio::sync::OnceCell<Scenario> = tokio::sync::OnceCell::const_new();
    SCENARIO.get_or_init(run_scenario).await
}

/// Runs the scenario: create, get, search, an unauthorized list, patch,
/// delete and the description, each through its function binary.
async fn run_scenario() -> Scenario {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let key = tenant.key.clone();
    let body = json!({"name": SECRET_NAME, "phone": SECRET_PHONE, "notes": SECRET_NOTES});

    let mut create = start("create-client").await;
    let created = invoke(
        &mut create,
        &event("create-client.json", &key, PLACEHOLDER_ID, Some(&body)),
    )
    .await;
    let id = serde_json::from_str::<Value>(created["body"].as_str().unwrap()).unwrap()["data"]
        ["id"]
        .as_str()
        .expect("the created id")
        .to_owned();
    let mut steps: Vec<(&'static str, &'static str, Value)> = vec![
        (
            "get-client",
            "GET /clients/{id}",
            event("get-client.json", &key, &id, None),
        ),
        ("list-clients", "GET /clients", {
            let mut list = event("list-clients.json", &key, &id, None);
            list["rawQueryString"] = json!("query=quentin");
            list["queryStringParameters"] = json!({"query": "quentin"});
            list
        }),
        (
            "list-clients",
            "GET /clients",
            event("unauthorized.json", &key, &id, None),
        ),
        (
            "update-client",
            "PATCH /clients/{id}",
            event("update-client.json", &key, &id, None),
        ),
        (
            "delete-client",
            "DELETE /clients/{id}",
            event("delete-client.json", &key, &id, None),
        ),
        (
            "get-openapi",
            "GET /openapi.json",
            event("get-openapi.json", &key, &id, None),
        ),
    ];
    let mut observed = vec![("POST /clients", observe(&create, &created, 0))];
    let mut output = create.stdout();
    let mut everything = create.output();
    let mut functions: BTreeMap<&str, RieFunction> = BTreeMap::new();
    for (binary, route, request) in steps.drain(..) {
        if !functions.contains_key(binary) {
            functions.insert(binary, start(binary).await);
        }
        let function = functions.get_mut(binary).unwrap();
        let before = function.stdout().lines().count();
        let payload = invoke(function, &request).await;
        observed.push((route, observe(function, &payload, before)));
    }
    for function in functions.values() {
        output.push_str(&function.stdout());
        everything.push_str(&function.output());
    }
    Scenario {
        observed,
        output,
        everything,
        key,
    }
}

/// What `function` logged for the invocation that answered `payload`,
/// reading its standard output from line `from` on.
fn observe(function: &RieFunction, payload: &Value, from: usize) -> Observed {
    let stdout = function.stdout();
    let now = chrono_now_ms();
    let mut records = Vec::new();
    let mut lines = Vec::new();
    for line in stdout.lines().skip(from) {
        match parse_emf(line, now) {
            Ok(Some(metrics)) => records.push((metrics, serde_json::from_str(line).unwrap())),
            Ok(None) => lines.extend(
                serde_json::from_str::<Value>(line)
                    .ok()
                    .filter(|v| v.get("fields").is_some()),
            ),
            Err(rule) => panic!("an invalid EMF record ({rule}): {line}"),
        }
    }
    assert_eq!(records.len(), 1, "one EMF record per invocation:\n{stdout}");
    let (metrics, record) = records.pop().unwrap();
    Observed {
        status: payload["statusCode"].as_u64().expect("a status"),
        metrics,
        record,
        lines,
    }
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn every_request_writes_one_valid_emf_record_with_the_contract_metrics() {
    let observed = &scenario().await.observed;

    for (route, request) in observed {
        let by_route: BTreeSet<(String, String)> = request
            .metrics
            .iter()
            .map(|m| (m.name.clone(), m.unit.clone().unwrap_or_default()))
            .collect();
        let expected: BTreeSet<(String, String)> = ROUTE_METRICS
            .iter()
            .map(|(n, u)| (n.to_string(), u.to_string()))
            .collect();
        assert_eq!(by_route, expected, "{route}");
        for metric in &request.metrics {
            assert_eq!(metric.namespace, NAMESPACE);
            assert_eq!(
                metric.dimension_sets,
                vec![vec![("Route".to_owned(), route.to_string())], vec![]],
                "{route} {}",
                metric.name
            );
        }
        assert_eq!(request.record["status"], request.status, "{route}");
        let errors = |name: &str| request.record[name].as_u64();
        assert_eq!(
            errors("ClientErrors"),
            Some(u64::from((400..500).contains(&request.status)))
        );
        assert_eq!(errors("ServerErrors"), Some(0), "{route}");
        assert_eq!(request.record["Requests"], 1);
        assert!(request.record["Latency"].as_f64().unwrap() > 0.0);
    }
}

#[tokio::test]
async fn no_metric_has_an_organization_dimension_and_the_organization_is_a_member_once_a_key_was_accepted(
) {
    let observed = &scenario().await.observed;

    for (route, request) in observed {
        for metric in &request.metrics {
            for set in &metric.dimension_sets {
                assert!(
                    set.iter().all(|(name, _)| name == "Route"),
                    "{route} {}: {set:?}: one metric per tenant would be billed per tenant",
                    metric.name
                );
            }
        }
        let authenticated = request.status != 401 && *route != "GET /openapi.json";
        let organization = request.record["Organization"].as_str();
        assert_eq!(
            organization.is_some(),
            authenticated,
            "{route} {}",
            request.status
        );
        if let Some(organization) = organization {
            assert!(organization.starts_with('t'), "the tenant's org");
        }
    }
}

#[tokio::test]
async fn dynamodb_calls_and_items_read_are_counted_per_request() {
    let observed = &scenario().await.observed;
    let of = |route: &str, status: u64| {
        &observed
            .iter()
            .find(|(r, o)| *r == route && o.status == status)
            .unwrap_or_else(|| panic!("{route} {status}"))
            .1
            .record
    };

    let get = of("GET /clients/{id}", 200);
    let search = of("GET /clients", 200);
    let openapi = of("GET /openapi.json", 200);

    // Less the SDK's retries (the faithful proxy's 500s, now and then).
    let first_attempts = |record: &Value| {
        record["DynamoDbCalls"].as_u64().unwrap() - record["dynamodbRetries"].as_u64().unwrap()
    };
    assert_eq!(first_attempts(get), 2, "key look-up + GetItem: {get}");
    assert_eq!(get["ItemsRead"], 2, "{get}");
    assert!(first_attempts(search) >= 3, "{search}");
    assert!(search["ItemsRead"].as_u64().unwrap() >= 2, "{search}");
    assert_eq!(openapi["DynamoDbCalls"], 0);
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id_route_and_organization() {
    let observed = &scenario().await.observed;

    for (route, request) in observed {
        assert!(!request.lines.is_empty(), "{route} logged nothing");
        for line in &request.lines {
            let span = &line["span"];
            assert_eq!(span["route"], *route, "{line}");
            assert_eq!(span["request_id"], request.record["requestId"], "{line}");
        }
        let served = request
            .lines
            .iter()
            .find(|l| l["fields"]["message"] == "request served")
            .unwrap_or_else(|| panic!("{route}: no closing line"));
        assert_eq!(served["fields"]["status"], request.status);
        assert!(served["fields"]["latency_ms"].as_f64().is_some());
        let organization = served["span"]["organization"].as_str();
        assert_eq!(
            organization,
            request.record["Organization"].as_str(),
            "{route}"
        );
    }
}

#[tokio::test]
async fn the_logs_show_no_key_body_name_phone_or_notes() {
    let Scenario {
        output,
        everything,
        key,
        ..
    } = scenario().await;

    for secret in [
        key.as_str(),
        SECRET_NAME,
        SECRET_PHONE,
        SECRET_DIGITS,
        SECRET_NOTES,
        "No longer active",
    ] {
        assert!(
            !output.contains(secret),
            "the function's output shows {secret:?}"
        );
        assert!(
            !everything.contains(secret),
            "the RIE's output shows {secret:?}"
        );
    }
    assert!(!output.contains(&key[3..20]), "part of the key");
}

#[tokio::test]
async fn a_call_the_sdk_retries_after_a_500_counts_as_two_calls_of_which_one_retry() {
    let config = shared::function::Config::for_table(TEST_TABLE);
    let (proxy, api) = TestApi::through_proxy(
        dynamodb_proxy::ProxyConfig::transparent(integration_tests::dynamodb_local_endpoint()),
        &config,
    )
    .await;
    let tenant = api.tenant().await;
    let created = api.create(&tenant, json!({"name": "Retried Read"})).await;
    let id = shared::domain::model::ClientId::parse(created["id"].as_str().unwrap()).unwrap();
    let get = || async {
        let (client, usage) =
            shared::store::usage::measure(api.app.clients.get(&tenant.org, id)).await;
        (client.expect("a read").expect("the client"), usage)
    };
    let (_, clean) = get().await;
    proxy.inject(dynamodb_proxy::Fault::InternalServerError {
        operation: "GetItem".into(),
        count: 1,
        forwarded: false,
    });

    let (read, faulted) = get().await;

    assert_eq!(read.name.as_str(), "Retried Read");
    assert_eq!((clean.calls, clean.retries), (1, 0), "{clean:?}");
    assert_eq!((faulted.calls, faulted.retries), (2, 1), "{faulted:?}");
    assert_eq!(faulted.first_attempts(), clean);
}

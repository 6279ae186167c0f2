//! What a request's closing log line and metrics say DynamoDB did equals
//! what DynamoDB Local's own answers show, counted independently.
//!
//! Each request is served by its function binary under AWS's Runtime
//! Interface Emulator, configured as `template.yaml` configures it (JSON
//! logs, a metrics namespace), with DynamoDB reached through a pass-through
//! `dynamodb-proxy`. The product counts with `shared::store::usage` (an SDK
//! interceptor reading the typed answers); the proxy counts the requests it
//! forwards and reads the items and `ConsumedCapacity` of DynamoDB Local's
//! answers off the wire (`dynamodb_proxy::answers`). For a plain list, a
//! status-filtered sorted list, a search, a create and a patch, the
//! `request served` line's `dynamodb_calls`, `items_read`, `read_units` and
//! `write_units`, and the EMF record's `DynamoDbCalls`, `ItemsRead`,
//! `ReadCapacityUnits` and `WriteCapacityUnits`, must equal the proxy's
//! tally for that request. Each function is warmed by one request first
//! (its init and key look-up are not part of the request measured).

use std::collections::BTreeMap;

use dynamodb_proxy::{Proxy, ProxyConfig, Summary};
use integration_tests::emf::parse_emf;
use integration_tests::{
    client_uri, dynamodb_local_endpoint, join_all, sample_clients, TestApi, TestRequest, TEST_TABLE,
};
use lambda_harness::binary_path;
use lambda_harness::rie::RieFunction;
use lambda_http::http::Method;
use serde_json::{json, Value};
use shared::store::layout::{org_pk, COUNTS_SK};

/// Clients created through the API (concurrent creates add to different
/// counts shards, so a list reads several) and imported (shard 0; enough
/// for full pages).
const CREATED: usize = 12;
const IMPORTED: usize = 120;
const LIMIT: u64 = 50;

/// What one request's log said, and what the proxy saw for it.
#[derive(Debug)]
struct Measured {
    /// The closing `request served` line's fields.
    served: Value,
    /// The EMF record.
    record: Value,
    /// The proxy's tally of the request.
    tally: Summary,
}

/// The requests measured, by name.
struct Scenario {
    requests: Vec<(&'static str, Measured)>,
    /// Counts shard items the organization has.
    shards: u64,
}

impl Scenario {
    fn request(&self, name: &str) -> &Measured {
        &self
            .requests
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no request {name}"))
            .1
    }
}

/// A function binary under the RIE, logging and emitting metrics as in
/// Lambda, reaching DynamoDB through `proxy`.
async fn start(function: &str, proxy: &Proxy) -> RieFunction {
    let endpoint = proxy.endpoint();
    let env = [
        ("TABLE_NAME", TEST_TABLE),
        // The proxy's tally is compared with the request's own count; the
        // limiter's leases are its own calls, not the request's (tested in
        // rate_limits.rs), so it is off here.
        ("RATE_LIMITS", "off"),
        ("METRICS_NAMESPACE", "ClientsApi/test"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
    ];
    RieFunction::start(binary_path(function), &env, &["RUST_LOG"]).await
}

/// Invokes `request` on `function`; its answer's body, and what it logged
/// and cost (the proxy's tally since it was reset).
async fn invoke(
    function: &mut RieFunction,
    proxy: &Proxy,
    request: &TestRequest,
    status: u64,
) -> (Value, Measured) {
    let before = function.stdout().lines().count();
    let reports = function.reports(0).await.len();
    proxy.reset_summary();
    let (_, event) = request.gateway_event();
    let answer = function.invoke(&event).await;
    let tally = proxy.summary();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", function.output());
    let payload = answer.payload();
    assert_eq!(
        payload["statusCode"],
        status,
        "{} {}: {payload}\n{}",
        request.method,
        request.uri,
        function.output()
    );
    let body: Value =
        serde_json::from_str(payload["body"].as_str().unwrap_or("null")).expect("a JSON body");
    // The RIE prints the invocation's REPORT line after its log lines.
    function.reports(reports + 1).await;
    let stdout = function.stdout();
    let lines: Vec<&str> = stdout.lines().skip(before).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let records: Vec<Value> = lines
        .iter()
        .filter(|line| parse_emf(line, now).expect("a valid EMF record").is_some())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let served: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "request served")
        .map(|line| line["fields"].clone())
        .collect();
    assert_eq!(records.len(), 1, "one EMF record:\n{stdout}");
    assert_eq!(served.len(), 1, "one closing line:\n{stdout}");
    let measured = Measured {
        served: served[0].clone(),
        record: records[0].clone(),
        tally,
    };
    (body, measured)
}

async fn scenario() -> &'static Scenario {
    static SCENARIO: tokio::sync::OnceCell<Scenario> = tokio::sync::OnceCell::const_new();
    SCENARIO.get_or_init(run_scenario).await
}

/// Seeds an organization, then sends the five requests, each after a
/// warming one on the same function.
async fn run_scenario() -> Scenario {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    api.seed(&tenant.org, &sample_clients(IMPORTED)).await;
    // At once, so that they lease different counts shards.
    let created = join_all((0..CREATED).map(|i| {
        api.create(
            &tenant,
            json!({"name": format!("Measured {i}"), "phone": "+1 555-0100"}),
        )
    }))
    .await;
    let some_client = created[0].clone();
    let shards = api
        .table
        .query_prefix(org_pk(&tenant.org), COUNTS_SK)
        .await
        .expect("the counts shards")
        .len() as u64;
    let proxy = Proxy::start(ProxyConfig::transparent(dynamodb_local_endpoint()))
        .await
        .expect("start the proxy");
    let get = |uri: &str| TestRequest::new(Method::GET, uri).key(&tenant.key);
    let with_body = |method: Method, uri: &str, body: Value| {
        TestRequest::new(method, uri).key(&tenant.key).json(&body)
    };

    let mut requests = Vec::new();
    let mut list = start("list-clients", &proxy).await;
    invoke(&mut list, &proxy, &get("/api/v1/clients?limit=1"), 200).await;
    for (name, uri) in [
        ("plain list", format!("/api/v1/clients?limit={LIMIT}")),
        (
            "status-filtered sorted list",
            format!("/api/v1/clients?limit={LIMIT}&status=active&sortBy=name&sortOrder=desc"),
        ),
        ("search", "/api/v1/clients?query=measured".to_owned()),
    ] {
        let (_, measured) = invoke(&mut list, &proxy, &get(&uri), 200).await;
        requests.push((name, measured));
    }

    let mut create = start("create-client", &proxy).await;
    let body = |name: &str| json!({"name": name, "phone": "+1 555-0199", "notes": "n"});
    let uri = "/api/v1/clients";
    invoke(
        &mut create,
        &proxy,
        &with_body(Method::POST, uri, body("Warm")),
        201,
    )
    .await;
    let (created, measured) = invoke(
        &mut create,
        &proxy,
        &with_body(Method::POST, uri, body("Counted")),
        201,
    )
    .await;
    requests.push(("create", measured));

    let mut update = start("update-client", &proxy).await;
    let warm = with_body(
        Method::PATCH,
        &client_uri(&some_client),
        json!({"notes": "w"}),
    );
    invoke(&mut update, &proxy, &warm, 200).await;
    let patch = json!({"name": "Counted Renamed", "status": "inactive"});
    let request = with_body(Method::PATCH, &client_uri(&created["data"]), patch);
    let (_, measured) = invoke(&mut update, &proxy, &request, 200).await;
    requests.push(("patch", measured));

    Scenario { requests, shards }
}

/// The request's logged and emitted usage equal the proxy's tally.
async fn assert_logged_usage_is_what_dynamodb_answered(name: &str) -> &'static Measured {
    let measured = scenario().await.request(name);
    let Measured {
        served,
        record,
        tally,
    } = measured;
    let logged = (
        served["dynamodb_calls"].as_u64(),
        served["items_read"].as_u64(),
        served["read_units"].as_f64(),
        served["write_units"].as_f64(),
    );
    let emitted = (
        record["DynamoDbCalls"].as_u64(),
        record["ItemsRead"].as_u64(),
        record["ReadCapacityUnits"].as_f64(),
        record["WriteCapacityUnits"].as_f64(),
    );
    let answered = (
        Some(tally.forwarded_total()),
        Some(tally.items_read),
        Some(tally.read_units),
        Some(tally.write_units),
    );

    assert_eq!(
        logged, answered,
        "{name}: closing line {served}\nproxy {tally:?}"
    );
    assert_eq!(emitted, answered, "{name}: EMF record {record}");
    assert!(tally.forwarded_total() > 0, "{name} called DynamoDB");
    measured
}

#[tokio::test]
async fn a_plain_lists_logged_usage_is_what_dynamodb_answered_counts_shards_included() {
    let measured = assert_logged_usage_is_what_dynamodb_answered("plain list").await;
    let shards = scenario().await.shards;

    // The counts shards (one Query), then LIMIT + 1 order items (one Query):
    // the page, and one more to know a page follows.
    assert!(shards > 2, "the concurrent creates used several shards");
    assert_eq!(
        measured.tally.forwarded,
        BTreeMap::from([("Query".to_owned(), 2)])
    );
    assert_eq!(measured.tally.items_read, shards + (LIMIT + 1));
    assert!(measured.tally.read_units > 0.0);
    assert_eq!(measured.tally.write_units, 0.0);
}

#[tokio::test]
async fn a_status_filtered_sorted_lists_logged_usage_is_what_dynamodb_answered() {
    let measured =
        assert_logged_usage_is_what_dynamodb_answered("status-filtered sorted list").await;

    assert!(measured.tally.items_read > LIMIT, "{:?}", measured.tally);
}

#[tokio::test]
async fn a_searchs_logged_usage_is_what_dynamodb_answered() {
    let measured = assert_logged_usage_is_what_dynamodb_answered("search").await;

    assert!(
        measured.tally.items_read >= CREATED as u64,
        "{:?}",
        measured.tally
    );
}

#[tokio::test]
async fn a_creates_logged_usage_is_what_dynamodb_answered_with_its_write_units() {
    let measured = assert_logged_usage_is_what_dynamodb_answered("create").await;

    assert!(measured.tally.write_units > 0.0, "{:?}", measured.tally);
}

#[tokio::test]
async fn a_patchs_logged_usage_is_what_dynamodb_answered_with_its_reads_and_writes() {
    let measured = assert_logged_usage_is_what_dynamodb_answered("patch").await;

    assert!(measured.tally.read_units > 0.0, "{:?}", measured.tally);
    assert!(measured.tally.write_units > 0.0, "{:?}", measured.tally);
}

//! The six function binaries run as Lambda runs them: each under AWS's own
//! Lambda Runtime Interface Emulator (`aws-lambda-rie`, the emulator `sam
//! local invoke` runs in its container; [`lambda_harness::rie`]), which is as
//! close to `sam local invoke` as a machine without Docker gets. Each test
//! posts the sample API Gateway events of `events/` to it, against DynamoDB
//! Local; one RIE (one function process) serves several invocations, as a
//! warm Lambda container does, and prints Lambda's `REPORT` line for each.
//!
//! The binaries must be built first (`cargo build --workspace --bins`), and
//! `AWS_LAMBDA_RIE` must name the RIE: `scripts/test` does both.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use integration_tests::{
    client_uri, repo_root, Tenant, TestApi, PLACEHOLDER_ID, PLACEHOLDER_KEY, TEST_TABLE,
};
use lambda_harness::rie::RieFunction;
use lambda_harness::{binary_path, runtime_api, FUNCTIONS};
use serde_json::{json, Value};

fn events_dir() -> PathBuf {
    repo_root().join("events")
}

/// `events/<file>` with the placeholders replaced by a real key and client id.
fn sample_event(file: &str, key: &str, id: &str) -> Value {
    let path = events_dir().join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(
        &text
            .replace(PLACEHOLDER_KEY, key)
            .replace(PLACEHOLDER_ID, id),
    )
    .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

/// Starts a function binary under the RIE with the tests' table.
async fn start(function: &str) -> RieFunction {
    // The generous plan, as the tests' own API has (`Config::for_table`).
    let env = [("TABLE_NAME", TEST_TABLE), ("DEFAULT_PLAN", "local")];
    RieFunction::start(binary_path(function), &env, &[]).await
}

/// Starts a function binary under the RIE without `TABLE_NAME`.
async fn start_without_table(function: &str) -> RieFunction {
    RieFunction::start(binary_path(function), &[], &["TABLE_NAME"]).await
}

/// An API Gateway (payload 2.0) response payload, read.
#[derive(Debug)]
struct GatewayAnswer {
    status: u64,
    headers: serde_json::Map<String, Value>,
    body: Value,
}

impl GatewayAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

/// Invokes `event` through the RIE and reads the function's API Gateway
/// response, checking what every invocation has: the RIE's 200, its
/// `REPORT` line for this invocation, one init for all invocations so far
/// (the warm process answered), JSON, and the event's request id as
/// `X-Request-Id`.
async fn call(function: &mut RieFunction, event: &Value) -> GatewayAnswer {
    let reported = function.reports(0).await.len();

    let answer = function.invoke(event).await;

    assert_eq!(
        answer.status,
        200,
        "{} failed the invocation: {answer:?}\n{}",
        function.name(),
        function.output()
    );
    let reports = function.reports(reported + 1).await;
    assert_eq!(
        reports.len(),
        reported + 1,
        "one REPORT line per invocation\n{}",
        function.output()
    );
    let report = reports.last().expect("this invocation's REPORT");
    assert!(
        report.contains("\tDuration: ") && report.contains("\tBilled Duration: "),
        "{report}"
    );
    assert_eq!(
        function.inits(),
        1,
        "one process (one init) serves every invocation\n{}",
        function.output()
    );
    if reported == 0 {
        // Straight to stderr, past the test harness's capture, so the numbers show in every run.
        let _ = writeln!(
            std::io::stderr(),
            "lambda_runtime: {} init {:.1} ms (the RIE's INIT REPORT)",
            function.name(),
            function.init_duration_ms().unwrap_or(f64::NAN)
        );
    }
    gateway_answer(&answer.payload(), event)
}

/// Reads an API Gateway response payload, checking that it is JSON and
/// carries the event's request id as `X-Request-Id`.
fn gateway_answer(payload: &Value, event: &Value) -> GatewayAnswer {
    assert_eq!(payload["isBase64Encoded"], false, "{payload}");
    let status = payload["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("no statusCode: {payload}"));
    let headers = payload["headers"]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("no headers: {payload}"));
    let body_text = payload["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no text body: {payload}"));
    let body = serde_json::from_str(body_text)
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {payload}"));
    let answer = GatewayAnswer {
        status,
        headers,
        body,
    };
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{payload}"
    );
    assert_eq!(
        answer.header("x-request-id"),
        event["requestContext"]["requestId"].as_str(),
        "X-Request-Id is the API Gateway request id: {payload}"
    );
    answer
}

async fn client_of(api: &TestApi, tenant: &Tenant, name: &str) -> String {
    let client = api
        .create(tenant, json!({"name": name, "phone": "+1 555-0000"}))
        .await;
    client["id"].as_str().expect("an id").to_owned()
}

#[test]
fn every_sample_event_is_exercised_here() {
    let files: BTreeSet<String> = std::fs::read_dir(events_dir())
        .expect("the events directory")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();

    let covered: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|function| format!("{}.json", function.binary))
        .chain([
            "unauthorized.json".to_owned(),
            "not-found.json".to_owned(),
            "get-docs.json".to_owned(),
        ])
        .collect();

    assert_eq!(
        files, covered,
        "a sample event without a test here (or a test without its event)"
    );
}

#[tokio::test]
async fn list_clients_answers_the_sample_event_with_the_total_and_refuses_no_key() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    client_of(&api, &tenant, "Ann").await;
    client_of(&api, &tenant, "Bob").await;
    let list = sample_event("list-clients.json", &tenant.key, PLACEHOLDER_ID);
    let unauthorized = sample_event("unauthorized.json", &tenant.key, PLACEHOLDER_ID);
    let mut function = start("list-clients").await;

    let first = call(&mut function, &list).await;
    let refused = call(&mut function, &unauthorized).await;
    let again = call(&mut function, &list).await;

    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["total"], 2);
    assert_eq!(
        (first.body["limit"].clone(), first.body["offset"].clone()),
        (json!(10), json!(0))
    );
    assert_eq!(first.body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (refused.status, refused.body["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        (again.status, again.body.clone()),
        (200, first.body),
        "the warm process answers again"
    );
}

#[tokio::test]
async fn the_real_binary_refuses_an_organization_over_its_limit_with_429_and_the_fields() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let id = client_of(&api, &tenant, "Ann").await;
    integration_tests::limits::set_plan(
        &api,
        &tenant.org,
        shared::domain::plan::PlanName::Free,
        integration_tests::limits::requests_per_second(1),
    )
    .await;
    let get = sample_event("get-client.json", &tenant.key, &id);
    let mut function = start("get-client").await;
    // The create above leased under the generous plan: its epoch's tokens count.
    integration_tests::limits::next_epoch(std::time::Duration::from_millis(200)).await;

    let first = call(&mut function, &get).await;
    let mut refused = None;
    for _ in 0..10 {
        let answer = call(&mut function, &get).await;
        if answer.status == 429 {
            refused = Some(answer);
            break;
        }
    }

    assert_eq!(first.status, 200, "{:?}", first.body);
    assert!(first
        .header("ratelimit-policy")
        .is_some_and(|p| p.starts_with("\"requests\";q=1;w=1")));
    let refused = refused.expect("a 429 within 10 requests at 1 request/s");
    assert_eq!(refused.body["error"]["code"], "rate_limited");
    assert!(refused
        .header("retry-after")
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|s| s >= 1));
    assert!(refused
        .header("ratelimit")
        .is_some_and(|r| r.starts_with("\"requests\";r=0;")));
}

#[tokio::test]
async fn get_client_answers_the_sample_event_and_404_for_an_unknown_id() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let id = client_of(&api, &tenant, "Ann").await;
    let get = sample_event("get-client.json", &tenant.key, &id);
    let not_found = sample_event("not-found.json", &tenant.key, &id);
    let mut function = start("get-client").await;

    let found = call(&mut function, &get).await;
    let missing = call(&mut function, &not_found).await;
    let again = call(&mut function, &get).await;

    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(found.body["data"]["id"], id.as_str());
    assert_eq!(found.body["data"]["name"], "Ann");
    assert_eq!(found.header("etag"), Some("\"1\""));
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"error": {"code": "not_found", "message": "No such client."}})
    );
    assert_eq!(
        (again.status, again.body.clone()),
        (200, found.body),
        "the warm process answers again"
    );
}

#[tokio::test]
async fn get_client_answers_an_event_from_a_named_stage() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let id = client_of(&api, &tenant, "Ann").await;
    // What API Gateway sends for a stage named `dev`: the stage in rawPath and
    // http.path; the route key and pathParameters stay without it.
    let mut event = sample_event("get-client.json", &tenant.key, &id);
    let staged_path = format!("/dev/api/v1/clients/{id}");
    event["rawPath"] = json!(staged_path);
    event["requestContext"]["http"]["path"] = json!(staged_path);
    event["requestContext"]["stage"] = json!("dev");
    event["requestContext"]["requestId"] = json!("StagedRequest1=");
    let mut function = start("get-client").await;

    let answer = call(&mut function, &event).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["data"]["id"], id.as_str());
}

#[tokio::test]
async fn create_client_answers_201_with_location_for_each_sample_event() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let create = sample_event("create-client.json", &tenant.key, PLACEHOLDER_ID);
    let mut function = start("create-client").await;

    let first = call(&mut function, &create).await;
    let second = call(&mut function, &create).await;

    for answer in [&first, &second] {
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        let client = &answer.body["data"];
        assert_eq!(
            (client["name"].as_str(), client["phone"].as_str()),
            (Some("John Doe"), Some("+1 555-1234"))
        );
        assert_eq!(client["status"], "active");
        let location = client_uri(client);
        assert_eq!(answer.header("location"), Some(location.as_str()));
        assert_eq!(answer.header("etag"), Some("\"1\""));
    }
    assert_ne!(
        first.body["data"]["id"], second.body["data"]["id"],
        "each invocation creates a client"
    );
    let stored = api.list(&tenant, "").await;
    assert_eq!(stored["total"], 2);
}

#[tokio::test]
async fn update_client_applies_the_sample_patch_and_repeating_it_changes_nothing() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let id = client_of(&api, &tenant, "John Doe").await;
    let update = sample_event("update-client.json", &tenant.key, &id);
    let mut function = start("update-client").await;

    let first = call(&mut function, &update).await;
    let again = call(&mut function, &update).await;

    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["data"]["id"], id.as_str());
    assert_eq!(first.body["data"]["status"], "inactive");
    assert_eq!(first.body["data"]["notes"], "No longer active");
    assert_eq!(first.body["data"]["name"], "John Doe");
    assert_eq!(first.header("etag"), Some("\"2\""));
    assert_eq!(
        (again.status, again.body.clone()),
        (200, first.body.clone()),
        "the same patch again is a no-op"
    );
    let stored = api.get(&tenant, &format!("/api/v1/clients/{id}")).await;
    assert_eq!(stored.body["data"], first.body["data"]);
}

#[tokio::test]
async fn delete_client_answers_success_then_404_on_the_same_process() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let id = client_of(&api, &tenant, "Ann").await;
    let delete = sample_event("delete-client.json", &tenant.key, &id);
    let mut function = start("delete-client").await;

    let first = call(&mut function, &delete).await;
    let second = call(&mut function, &delete).await;

    assert_eq!(
        (first.status, first.body.clone()),
        (200, json!({"success": true}))
    );
    assert_eq!(
        (second.status, second.body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    assert_eq!(
        api.get(&tenant, &format!("/api/v1/clients/{id}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_function_without_table_name_fails_at_init_instead_of_taking_events() {
    for function in FUNCTIONS.iter().filter(|function| function.needs_table) {
        let event = sample_event(&format!("{}.json", function.binary), "", PLACEHOLDER_ID);
        let mut process = start_without_table(function.binary).await;

        let answer = process.invoke(&event).await;

        let output = process.output();
        assert_eq!(
            answer.status, 502,
            "{}: {answer:?}\n{output}",
            function.binary
        );
        assert!(
            output.contains("INIT RTDONE(status: error)") && output.contains("Runtime.ExitError"),
            "{}: the RIE reports a failed init\n{output}",
            function.binary
        );
        assert!(
            process.reports(0).await.is_empty(),
            "{}: no invocation ran\n{output}",
            function.binary
        );
        // `main` returns the configuration error, which Rust prints with `Debug`:
        // `Error: "configuration: TABLE_NAME is not set: ..."`.
        assert!(
            output.contains("TABLE_NAME"),
            "{} says what is missing\n{output}",
            function.binary
        );
    }
}

#[tokio::test]
async fn get_openapi_answers_the_sample_event_with_the_description_and_needs_no_table() {
    let event = sample_event("get-openapi.json", "", PLACEHOLDER_ID);
    assert!(
        event["headers"].get("authorization").is_none(),
        "the sample event carries no key"
    );
    // Without TABLE_NAME: the function has no configuration to miss.
    let mut function = start_without_table("get-openapi").await;

    let first = call(&mut function, &event).await;
    let again = call(&mut function, &event).await;

    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(
        &first.body,
        get_openapi::description().expect("openapi.yaml parses")
    );
    assert_eq!(first.body["openapi"], "3.1.0");
    assert_eq!(
        (again.status, again.body.clone()),
        (200, first.body),
        "the warm process answers again"
    );
}

#[tokio::test]
async fn get_openapi_answers_the_docs_sample_event_with_the_page_and_its_caching_headers() {
    let event = sample_event("get-docs.json", "", PLACEHOLDER_ID);
    let mut function = start_without_table("get-openapi").await;

    let answer = function.invoke(&event).await;

    assert_eq!(answer.status, 200, "{}", function.output());
    let payload = answer.payload();
    assert_eq!(payload["statusCode"], 200, "{}", function.output());
    let headers = &payload["headers"];
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert!(headers["etag"]
        .as_str()
        .is_some_and(|tag| tag.starts_with('"')));
    assert!(headers["content-security-policy"]
        .as_str()
        .is_some_and(|csp| csp.starts_with("default-src 'none'")));
    let page = &get_openapi::docs::page().expect("the page builds").html;
    assert_eq!(payload["body"].as_str(), Some(page.as_str()));
}

/// The benchmark's own Runtime API emulator (what the RIE does not give:
/// spawn → first `/next`, peak RSS), on the function that needs no table.
#[tokio::test]
async fn the_benchmarks_emulator_measures_init_first_answer_and_peak_rss() {
    let event = sample_event("get-openapi.json", "", PLACEHOLDER_ID);

    let cold = runtime_api::cold_start(&binary_path("get-openapi"), &[], &event.to_string())
        .await
        .unwrap_or_else(|failure| panic!("get-openapi did not start: {failure}"));

    assert_eq!(cold.status, Some(200), "{cold:?}");
    assert!(cold.ready > std::time::Duration::ZERO, "{cold:?}");
    assert!(cold.answered > cold.ready, "{cold:?}");
    assert!(cold.peak_rss_kib > 0, "{cold:?}");
    let _ = writeln!(
        std::io::stderr(),
        "lambda_runtime: get-openapi init {:.1} ms (spawn to first /next), peak RSS {} KiB",
        cold.ready.as_secs_f64() * 1e3,
        cold.peak_rss_kib
    );
}

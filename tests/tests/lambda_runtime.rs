//! The six function binaries run as Lambda runs them: started as processes
//! with Lambda's environment, pulling the sample API Gateway events of
//! `events/` from an emulated Runtime API (`runtime_emulator`), against
//! DynamoDB Local. One process per function serves several invocations, as a
//! warm Lambda container does.
//!
//! The binaries must be built first (`cargo build --workspace --bins`, which
//! `scripts/test` runs before `cargo test`).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use integration_tests::runtime_emulator::{binary_path, FunctionProcess};
use integration_tests::{Tenant, TestApi};
use serde_json::{json, Value};

/// The placeholders of the sample events.
const PLACEHOLDER_KEY: &str = "ba_0000000000000000000000000000000000000000000000000000000000000000";
const PLACEHOLDER_ID: &str = "0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a";

/// The functions of the client routes: each needs `TABLE_NAME`.
const FUNCTIONS: [&str; 5] = [
    "list-clients",
    "get-client",
    "create-client",
    "update-client",
    "delete-client",
];
/// The function of the public route: no configuration, no table.
const OPENAPI_FUNCTION: &str = "get-openapi";

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
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

/// Starts a function binary and waits for it to ask for its first event,
/// printing its init time (spawn → first `/next`).
async fn start(function: &str) -> FunctionProcess {
    let mut process = FunctionProcess::start(binary_path(function), &[]);
    let init = process
        .init_time()
        .await
        .unwrap_or_else(|failure| panic!("{function} did not start: {failure}"));
    // Straight to stderr, past the test harness's capture, so the numbers show in every run.
    let _ = writeln!(
        std::io::stderr(),
        "lambda_runtime: {function} init {:.1} ms (spawn to first /next)",
        init.as_secs_f64() * 1e3
    );
    process
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

/// Invokes `event` and reads the function's API Gateway response, checking
/// what every answer has: JSON, and the event's request id as `X-Request-Id`.
async fn call(process: &mut FunctionProcess, event: &Value) -> GatewayAnswer {
    let payload = match process.invoke(event).await {
        Ok(payload) => payload,
        Err(error) => panic!(
            "{} answered with an invocation error: {error}\n{}",
            process.name(),
            process.output()
        ),
    };
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
        .chain([&OPENAPI_FUNCTION])
        .map(|function| format!("{function}.json"))
        .chain(["unauthorized.json".to_owned(), "not-found.json".to_owned()])
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
        let location = format!("/api/v1/clients/{}", client["id"].as_str().expect("an id"));
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
    for function in FUNCTIONS {
        let mut process =
            FunctionProcess::start_without(binary_path(function), &[], &["TABLE_NAME"]);

        let failure = process
            .init_time()
            .await
            .expect_err("a function without TABLE_NAME must not get ready");

        let reported = failure.init_error.is_some();
        let exited_with_error = failure.exit_status.is_some_and(|status| !status.success());
        assert!(reported || exited_with_error, "{function}: {failure}");
        // `main` returns the configuration error, which Rust prints with `Debug`:
        // `Error: MissingTableName` (the `Display` text names TABLE_NAME).
        let says_what = ["TABLE_NAME", "MissingTableName"]
            .iter()
            .any(|text| failure.output.contains(text));
        assert!(says_what, "{function} says what is missing: {failure}");
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
    let mut process =
        FunctionProcess::start_without(binary_path(OPENAPI_FUNCTION), &[], &["TABLE_NAME"]);
    let init = process
        .init_time()
        .await
        .unwrap_or_else(|failure| panic!("{OPENAPI_FUNCTION} did not start: {failure}"));
    let _ = writeln!(
        std::io::stderr(),
        "lambda_runtime: {OPENAPI_FUNCTION} init {:.1} ms (spawn to first /next)",
        init.as_secs_f64() * 1e3
    );

    let first = call(&mut process, &event).await;
    let again = call(&mut process, &event).await;

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

//! `openapi.yaml` against the code, so that neither can drift silently:
//!
//! - the description's routes are exactly `shared::http::routes::ROUTES`, and
//!   `GET /api/v1/openapi.json` serves the description itself;
//! - real answers of the handlers (a client, a list with and without
//!   `nextCursor`, a delete, and every error code) conform to it: status
//!   documented for the operation, `application/json`, body valid against
//!   the response schema (the `jsonschema` crate, draft 2020-12), every
//!   required response header present and valid;
//! - every error the code can produce (`ApiError`'s variants) has a code the
//!   description lists, and a body its schema accepts;
//! - the request schemas accept exactly what the validation code accepts:
//!   the same verdict for thousands of generated names, phones, `query` and
//!   `status` values and `Idempotency-Key`s (the patterns of the description
//!   encode the code's trimming, lengths and character rules);
//! - every example in the description is valid against its schema.

use std::collections::BTreeSet;

use integration_tests::{index_settled, repo_root, Tenant, TestApi, TestRequest, TestResponse};
use lambda_http::http::Method;
use serde_json::{json, Map, Value};
use shared::domain::input::{ClientPatch, IdempotencyKey, NewClient};
use shared::domain::list_query::ListQuery;
use shared::domain::validation::FieldError;
use shared::http::routes::{Function, Route, BASE_PATH, ROUTES};
use shared::store::outcome::WriteOutcome;
use shared::ApiError;

// ---------------------------------------------------------------- helpers

/// `openapi.yaml` as JSON.
fn description() -> Value {
    let path = repo_root().join("openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).expect("openapi.yaml is YAML")
}

/// Follows a local `$ref` (`#/components/...`) of the description, repeatedly.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} points nowhere"));
    }
    value
}

/// A validator for `schema`, a schema of the description whose `$ref`s
/// point into the description (`#/components/schemas/...`): the schema's
/// keywords are put at the root of a copy of the description, so that the
/// references resolve. No OpenAPI root member is a JSON Schema keyword.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = doc.clone();
    let object = root.as_object_mut().expect("the description is an object");
    for (keyword, value) in schema.as_object().expect("a schema object") {
        assert!(
            !object.contains_key(keyword),
            "{keyword} is an OpenAPI root member"
        );
        object.insert(keyword.clone(), value.clone());
    }
    object.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    jsonschema::draft202012::options()
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The operation of the description for a method and a path of `ROUTES`.
fn operation<'a>(doc: &'a Value, method: &str, route: &str) -> &'a Value {
    let path = route
        .strip_prefix(BASE_PATH)
        .expect("a path under the base path");
    let operation = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(
        operation.is_object(),
        "openapi.yaml does not describe {method} {route}"
    );
    operation
}

/// Checks one real answer against the description: the status is documented
/// for the operation, the body is JSON valid against that response's schema,
/// and every required header is present and valid.
fn assert_conforms(doc: &Value, method: &str, route: &str, answer: &TestResponse) {
    let operation = operation(doc, method, route);
    let status = answer.status.to_string();
    let what = format!("{method} {route} -> {status} {}", answer.body);
    let response = resolve(
        doc,
        operation["responses"]
            .get(&status)
            .unwrap_or_else(|| panic!("{what}: status not documented")),
    );
    let content = response["content"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no content"));
    assert_eq!(
        content.keys().collect::<Vec<_>>(),
        ["application/json"],
        "{what}"
    );
    // (TestResponse already checked that the answer is `application/json` with a JSON body.)
    let schema = &content["application/json"]["schema"];
    let problems = errors(&validator(doc, schema), &answer.body);
    assert!(
        problems.is_empty(),
        "{what}: body does not match the schema: {problems:#?}"
    );
    let headers = response["headers"].as_object().cloned().unwrap_or_default();
    for (name, header) in headers {
        let header = resolve(doc, &header);
        match answer.header(&name.to_ascii_lowercase()) {
            Some(value) => {
                let problems = errors(&validator(doc, &header["schema"]), &json!(value));
                assert!(
                    problems.is_empty(),
                    "{what}: header {name}: {value:?}: {problems:?}"
                );
            }
            None => assert!(
                header["required"] != true,
                "{what}: required header {name} is missing"
            ),
        }
    }
}

/// The schema of a component, e.g. `schema(&doc, "NewClient")`.
fn component(_doc: &Value, name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn parameter_schema(doc: &Value, name: &str) -> Value {
    doc["components"]["parameters"][name]["schema"].clone()
}

/// A tiny deterministic generator (xorshift), so the comparisons below
/// cover the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A string of `len` characters drawn from `alphabet`.
    fn string(&mut self, alphabet: &[char], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

/// Characters around every rule: letters, digits, phone punctuation, Unicode
/// White_Space (trimmed by the code), controls (refused in names), and
/// look-alikes that are neither (U+001C is whitespace to Python but not to
/// Rust; U+FEFF and U+200B are not White_Space).
const ALPHABET: &[char] = &[
    'a', 'Z', 'é', '😀', '5', '0', '9', '+', '-', '(', ')', '.', ',', ' ', '\t', '\n', '\r',
    '\u{0b}', '\u{0c}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2028}', '\u{202f}',
    '\u{3000}', '\u{0}', '\u{1c}', '\u{1f}', '\u{7f}', '\u{9f}', '\u{feff}', '\u{200b}',
];

/// Lengths around the boundaries of a rule of `max` characters.
fn lengths(rng: &mut Rng, max: usize) -> usize {
    match rng.below(3) {
        0 => rng.below(8),
        1 => max.saturating_sub(4) + rng.below(10),
        _ => rng.below(max + 10),
    }
}

/// Compares the code's verdict with the schema's on many values; panics with
/// every disagreement.
fn assert_same_verdicts(
    what: &str,
    values: impl IntoIterator<Item = String>,
    code: impl Fn(&str) -> bool,
    schema: impl Fn(&str) -> bool,
) {
    let mut disagreements = Vec::new();
    let mut counts = [0usize; 2];
    for value in values {
        let accepted = code(&value);
        counts[usize::from(accepted)] += 1;
        if accepted != schema(&value) {
            disagreements.push(format!(
                "{value:?}: code {}, openapi.yaml {}",
                verdict(accepted),
                verdict(!accepted)
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{what}: {} disagreements, e.g. {:#?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(10)]
    );
    assert!(
        counts[0] > 50 && counts[1] > 50,
        "{what}: too few accepted or refused values to mean anything: {counts:?}"
    );
}

fn verdict(accepted: bool) -> &'static str {
    if accepted {
        "accepts"
    } else {
        "refuses"
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

// ------------------------------------------------------------ the routes

#[test]
fn the_description_has_exactly_the_routes_of_the_api() {
    let doc = description();
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                described.insert((method.to_ascii_uppercase(), format!("{}{path}", BASE_PATH)));
            }
        }
    }
    let routes: BTreeSet<_> = ROUTES
        .iter()
        .map(|route| (route.method.to_string(), route.path.to_string()))
        .collect();

    assert_eq!(described, routes, "openapi.yaml paths differ from ROUTES");
    assert_eq!(doc["openapi"], "3.1.0");
    let servers: Vec<&str> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert!(
        servers.iter().all(|url| url.ends_with(BASE_PATH)),
        "{servers:?}"
    );
}

#[test]
fn every_operation_but_the_description_needs_a_bearer_key_and_answers_401() {
    let doc = description();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"], json!([{"bearerAuth": []}]));
    for &Route {
        method,
        path: route,
        function,
        ..
    } in ROUTES
    {
        let operation = operation(&doc, method, route);
        if function == Function::GetOpenApi {
            assert_eq!(operation["security"], json!([]), "{route} is public");
            continue;
        }
        assert!(
            operation.get("security").is_none(),
            "{method} {route} overrides the bearer scheme"
        );
        let unauthorized = resolve(&doc, &operation["responses"]["401"]);
        assert_eq!(
            resolve(&doc, &unauthorized["headers"]["WWW-Authenticate"])["required"],
            true,
            "{method} {route}"
        );
        for (status, response) in operation["responses"].as_object().unwrap() {
            let response = resolve(&doc, response);
            assert!(
                response["content"].get("application/json").is_some(),
                "{method} {route} {status}"
            );
            if status != "429" {
                // 429 comes from API Gateway, not from the function.
                assert!(
                    response["headers"].get("X-Request-Id").is_some(),
                    "{method} {route} {status}: X-Request-Id"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_served_description_is_openapi_yaml_and_needs_no_key() {
    let doc = description();
    let api = TestApi::start().await;

    let served = api
        .send(TestRequest::new(Method::GET, "/api/v1/openapi.json"))
        .await;
    let with_a_wrong_key = api
        .send(TestRequest::new(Method::GET, "/api/v1/openapi.json").key("ba_nope"))
        .await;

    assert_eq!(served.status, 200);
    assert_eq!(
        served.body, doc,
        "GET /api/v1/openapi.json is openapi.yaml as JSON"
    );
    assert_eq!(
        with_a_wrong_key.status, 200,
        "a key, even a wrong one, changes nothing"
    );
    assert_conforms(&doc, "GET", "/api/v1/openapi.json", &served);
}

// ------------------------------------------------------- real responses

const COLLECTION: &str = "/api/v1/clients";
const ITEM: &str = "/api/v1/clients/{id}";

/// The description and the API with a tenant of its own: the arrange step
/// of the tests of real answers.
struct Live {
    doc: Value,
    api: TestApi,
    tenant: Tenant,
}

impl Live {
    async fn start() -> Self {
        let doc = description();
        let api = TestApi::start().await;
        let tenant = api.tenant().await;
        Self { doc, api, tenant }
    }

    /// The answer conforms to the description of `method` `route`.
    fn check(&self, method: &str, route: &str, answer: &TestResponse) {
        assert_conforms(&self.doc, method, route, answer)
    }

    /// A `POST /clients` with the tenant's key and `Idempotency-Key: order-42`.
    fn keyed(&self) -> TestRequest {
        TestRequest::new(Method::POST, COLLECTION)
            .key(&self.tenant.key)
            .header("idempotency-key", "order-42")
    }

    /// The creates: the docs page's body, a keyed create and its replay, and
    /// one more client (three clients in all).
    async fn creates(&self) -> Creates {
        let created = self
            .api
            .post(
                &self.tenant,
                COLLECTION,
                &json!({"name": "John Doe", "phone": "+1 555-1234"}),
            )
            .await;
        let ann = json!({"name": "Ann", "notes": "x", "status": "inactive"});
        let first = self.api.send(self.keyed().json(&ann)).await;
        let replayed = self.api.send(self.keyed().json(&ann)).await;
        self.api.create(&self.tenant, json!({"name": "Bob"})).await;
        let id = created.body["data"]["id"].as_str().unwrap().to_owned();
        let path = format!("{COLLECTION}/{id}");
        Creates {
            created,
            first,
            replayed,
            path,
        }
    }
}

/// The answers of [`Live::creates`], and the path of the docs page's client.
struct Creates {
    created: TestResponse,
    first: TestResponse,
    replayed: TestResponse,
    path: String,
}

#[tokio::test]
async fn creates_and_a_replayed_create_conform_to_the_description() {
    let live = Live::start().await;

    let creates = live.creates().await;

    assert_eq!(creates.created.status, 201);
    live.check("POST", COLLECTION, &creates.created);
    assert_eq!(
        (
            creates.first.status,
            creates.replayed.header("idempotent-replayed")
        ),
        (201, Some("true"))
    );
    live.check("POST", COLLECTION, &creates.first);
    live.check("POST", COLLECTION, &creates.replayed);
}

#[tokio::test]
async fn a_client_and_pages_with_and_without_next_cursor_conform_to_the_description() {
    let live = Live::start().await;
    let (api, tenant) = (&live.api, &live.tenant);
    let path = live.creates().await.path;
    // An arrange step: the clients are in the list indexes before the pages are read.
    index_settled().await;

    live.check("GET", ITEM, &api.get(tenant, &path).await);
    let page = api
        .get(tenant, &format!("{COLLECTION}?limit=2&sortBy=name"))
        .await;
    assert!(page.body["nextCursor"].is_string(), "{}", page.body);
    live.check("GET", COLLECTION, &page);
    let cursor = page.body["nextCursor"].as_str().unwrap();
    let last = api
        .get(
            tenant,
            &format!("{COLLECTION}?limit=2&sortBy=name&cursor={cursor}"),
        )
        .await;
    assert_eq!(last.body["nextCursor"], Value::Null, "{}", last.body);
    live.check("GET", COLLECTION, &last);
    live.check(
        "GET",
        COLLECTION,
        &api.get(
            tenant,
            &format!("{COLLECTION}?status=active,inactive&query=555&sortOrder=desc"),
        )
        .await,
    );
}

#[tokio::test]
async fn patches_and_a_conditional_delete_conform_to_the_description() {
    let live = Live::start().await;
    let (api, tenant) = (&live.api, &live.tenant);
    let path = live.creates().await.path;

    // The docs page's patch, a no-op patch, a conditional delete.
    let patched = api
        .patch(
            tenant,
            &path,
            &json!({"status": "inactive", "notes": "No longer active"}),
        )
        .await;
    assert_eq!(patched.status, 200);
    live.check("PATCH", ITEM, &patched);
    live.check("PATCH", ITEM, &api.patch(tenant, &path, &json!({})).await);
    let etag = patched.header("etag").unwrap().to_owned();
    let deleted = api
        .send(
            TestRequest::new(Method::DELETE, &path)
                .key(&tenant.key)
                .header("if-match", &etag),
        )
        .await;
    assert_eq!(deleted.status, 200);
    live.check("DELETE", ITEM, &deleted);
}

#[tokio::test]
async fn every_error_code_the_handlers_answer_with_conforms_to_the_description() {
    let live = Live::start().await;
    let (api, tenant) = (&live.api, &live.tenant);
    let path = live.creates().await.path;
    let deleted = api.delete(tenant, &path).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let other = api.create(tenant, json!({"name": "Cy"})).await;
    let other_path = format!("{COLLECTION}/{}", other["id"].as_str().unwrap());
    let targets = ErrorTargets {
        key: &tenant.key,
        deleted: &path,
        existing: &other_path,
    };
    let errors = [
        post_errors(&targets, live.keyed()),
        get_errors(&targets),
        patch_errors(&targets),
        delete_errors(&targets),
    ];

    let mut codes = BTreeSet::new();
    for (method, route, request, status) in errors.into_iter().flatten() {
        let what = format!("{method} {} {:?}", request.uri, request.headers);
        let answer = api.send(request).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        live.check(method, route, &answer);
        codes.insert(answer.error_code().to_owned());
    }
    let expected = [
        "conflict",
        "invalid_json",
        "not_found",
        "payload_too_large",
        "precondition_failed",
        "unauthorized",
        "unsupported_media_type",
        "validation_error",
    ];
    assert_eq!(
        codes,
        expected.iter().map(|c| c.to_string()).collect(),
        "every error code a handler answers with was seen"
    );
}

/// An erroneous request: the operation's method and route, the request,
/// and the status it must be answered with.
type ErrorCase = (&'static str, &'static str, TestRequest, u16);

/// What the error requests address: the tenant's key, a deleted client's
/// path and an existing client's path.
struct ErrorTargets<'a> {
    key: &'a str,
    deleted: &'a str,
    existing: &'a str,
}

/// Erroneous creates; `keyed` is the keyed create's request, already used
/// with another body.
fn post_errors(t: &ErrorTargets, keyed: TestRequest) -> Vec<ErrorCase> {
    let post = || TestRequest::new(Method::POST, COLLECTION);
    vec![
        (
            "POST",
            COLLECTION,
            post().key(t.key).raw_body(b"[1]".to_vec()),
            400,
        ),
        (
            "POST",
            COLLECTION,
            post().key(t.key).json(&json!({"id": "x", "phone": 5})),
            400,
        ),
        (
            "POST",
            COLLECTION,
            keyed.json(&json!({"name": "Someone else"})),
            409,
        ),
        (
            "POST",
            COLLECTION,
            post().key(t.key).header("idempotency-key", "é"),
            400,
        ),
        (
            "POST",
            COLLECTION,
            post()
                .key(t.key)
                .header("content-type", "text/plain")
                .raw_body(b"x".to_vec()),
            415,
        ),
        (
            "POST",
            COLLECTION,
            post().key(t.key).raw_body(vec![b' '; 64 * 1024 + 1]),
            413,
        ),
        ("POST", COLLECTION, post().json(&json!({"name": "A"})), 401),
    ]
}

/// Erroneous lists and gets.
fn get_errors(t: &ErrorTargets) -> Vec<ErrorCase> {
    let get = |uri: &str| TestRequest::new(Method::GET, uri);
    vec![
        (
            "GET",
            COLLECTION,
            get(&format!("{COLLECTION}?limit=0&page=2")).key(t.key),
            400,
        ),
        // A parameter with an empty name is named as sent: `"field": ""` (found by schemathesis).
        (
            "GET",
            COLLECTION,
            get(&format!("{COLLECTION}?cursor=0&=null")).key(t.key),
            400,
        ),
        (
            "GET",
            COLLECTION,
            get(&format!("{COLLECTION}?cursor=forged.0")).key(t.key),
            400,
        ),
        ("GET", COLLECTION, get(COLLECTION).key("ba_unknown"), 401),
        ("GET", ITEM, get(t.deleted).key(t.key), 404),
        (
            "GET",
            ITEM,
            get(&format!("{COLLECTION}/not-an-id")).key(t.key),
            404,
        ),
        (
            "GET",
            ITEM,
            get(t.deleted).header("authorization", "Basic eDp5"),
            401,
        ),
    ]
}

/// Erroneous updates.
fn patch_errors(t: &ErrorTargets) -> Vec<ErrorCase> {
    let patch = |uri: &str| TestRequest::new(Method::PATCH, uri);
    let existing = || patch(t.existing).key(t.key);
    vec![
        (
            "PATCH",
            ITEM,
            existing()
                .header("if-match", "\"999\"")
                .json(&json!({"name": "B"})),
            412,
        ),
        ("PATCH", ITEM, existing().json(&json!({"name": null})), 400),
        ("PATCH", ITEM, existing().raw_body(b"{".to_vec()), 400),
        (
            "PATCH",
            ITEM,
            patch(t.deleted).key(t.key).json(&json!({})),
            404,
        ),
        (
            "PATCH",
            ITEM,
            existing()
                .header("content-type", "application/xml")
                .raw_body(b"<a/>".to_vec()),
            415,
        ),
        (
            "PATCH",
            ITEM,
            existing().raw_body(vec![b' '; 64 * 1024 + 1]),
            413,
        ),
        ("PATCH", ITEM, patch(t.existing).json(&json!({})), 401),
    ]
}

/// Erroneous deletes.
fn delete_errors(t: &ErrorTargets) -> Vec<ErrorCase> {
    let delete = |uri: &str| TestRequest::new(Method::DELETE, uri);
    vec![
        (
            "DELETE",
            ITEM,
            delete(t.existing).key(t.key).header("if-match", "W/\"1\""),
            412,
        ),
        ("DELETE", ITEM, delete(t.deleted).key(t.key), 404),
        ("DELETE", ITEM, delete(t.existing), 401),
    ]
}

#[test]
fn every_error_the_code_can_make_is_described() {
    let doc = description();
    let every_error = || {
        vec![
            ApiError::InvalidJson("The request body is not valid JSON."),
            ApiError::Validation(vec![
                FieldError::new("name", "is required"),
                FieldError::new("limit", "must be an integer from 1 to 100"),
            ]),
            ApiError::Unauthorized,
            ApiError::NotFound,
            ApiError::NoRoute,
            ApiError::Conflict("The Idempotency-Key was used with another body."),
            ApiError::PreconditionFailed,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::RateLimited {
                retry_after: std::time::Duration::from_secs(3),
                budget: shared::domain::share::Budget::ReadUnits,
            },
            ApiError::Unavailable {
                outcome: WriteOutcome::NotApplied,
                cause: "throttled".into(),
            },
            ApiError::Unavailable {
                outcome: WriteOutcome::MaybeApplied,
                cause: "an attempt timed out".into(),
            },
            ApiError::internal("a bug"),
        ]
    };
    let described: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let made: BTreeSet<String> = every_error().iter().map(|e| e.code().to_owned()).collect();
    assert_eq!(
        made, described,
        "ErrorCode in openapi.yaml differs from ApiError's codes"
    );

    let request = || {
        lambda_http::http::Request::builder()
            .uri("/api/v1/clients")
            .body(lambda_http::Body::Empty)
            .unwrap()
    };
    for error in every_error() {
        let status = error.status().to_string();
        let code = error.code();
        // The response documented for this status on every operation that has it.
        let mut documented = 0;
        let response = shared::http::respond(&request(), Err(error));
        let (parts, body) = response.into_parts();
        let answer = TestResponse {
            status: parts.status.as_u16(),
            body: serde_json::from_slice(body.as_ref()).unwrap(),
            headers: parts.headers,
        };
        for &Route {
            method,
            path: route,
            ..
        } in ROUTES
        {
            if operation(&doc, method, route)["responses"]
                .get(&status)
                .is_some()
            {
                documented += 1;
                // The same status can have other codes; it is enough that this body is one of them.
                let schema = &resolve(&doc, &operation(&doc, method, route)["responses"][&status])
                    ["content"]["application/json"]["schema"];
                if validator(&doc, schema).is_valid(&answer.body) {
                    assert_conforms(&doc, method, route, &answer);
                }
            }
        }
        assert!(documented > 0, "no operation documents {status} ({code})");
        assert!(
            validator(&doc, &component(&doc, "Error")).is_valid(&answer.body),
            "{code}: {}",
            answer.body
        );
    }
}

// ------------------------------------------- request schemas = the code

#[test]
fn names_the_description_accepts_are_exactly_the_names_the_code_accepts() {
    let doc = description();
    let new_client = validator(&doc, &component(&doc, "NewClient"));
    let patch = validator(&doc, &component(&doc, "ClientPatch"));
    let mut rng = Rng(0x5eed_0001);
    let mut values: Vec<String> = (0..4000)
        .map(|_| {
            let len = lengths(&mut rng, 200);
            rng.string(ALPHABET, len)
        })
        .collect();
    values.extend(
        [
            "John Doe",
            "",
            " ",
            " a ",
            "\u{85}a\u{85}",
            "a\u{85}b",
            "\u{1c}a",
            "\u{feff}",
        ]
        .map(String::from),
    );
    values.push(format!("  {}  ", "é".repeat(200)));
    values.push("é".repeat(201));

    assert_same_verdicts(
        "name",
        values.clone(),
        |name| NewClient::from_json(&object(json!({"name": name}))).is_ok(),
        |name| new_client.is_valid(&json!({"name": name})),
    );
    assert_same_verdicts(
        "name (PATCH)",
        values,
        |name| ClientPatch::from_json(&object(json!({"name": name}))).is_ok(),
        |name| patch.is_valid(&json!({"name": name})),
    );
}

#[test]
fn phones_the_description_accepts_are_exactly_the_phones_the_code_accepts() {
    let doc = description();
    let new_client = validator(&doc, &component(&doc, "NewClient"));
    let mut rng = Rng(0x5eed_0002);
    let phone_alphabet: Vec<char> = "0123456789 +-()."
        .chars()
        .chain(ALPHABET.iter().copied())
        .collect();
    let mut values: Vec<String> = (0..6000)
        .map(|_| {
            let len = lengths(&mut rng, 32);
            // Mostly phone characters, so that many values are valid.
            let alphabet: &[char] = if rng.below(4) == 0 {
                &phone_alphabet
            } else {
                &phone_alphabet[..16]
            };
            rng.string(alphabet, len)
        })
        .collect();
    values.extend(
        [
            "+1 555-1234",
            "",
            "   ",
            "12",
            " 1 2 3 ",
            "\u{3000}(555) 123.4\t",
            "555-CALL",
        ]
        .map(String::from),
    );
    values.push(format!(" {} ", "1".repeat(32)));
    values.push("1".repeat(33));

    assert_same_verdicts(
        "phone",
        values,
        |phone| NewClient::from_json(&object(json!({"name": "A", "phone": phone}))).is_ok(),
        |phone| new_client.is_valid(&json!({"name": "A", "phone": phone})),
    );
    assert!(new_client
        .is_valid(&json!({"name": "A", "phone": null, "notes": null, "status": "inactive"})));
    assert!(!new_client.is_valid(&json!({"name": "A", "status": null})));
    assert!(
        !new_client.is_valid(&json!({"name": "A", "createdAt": "2026-11-27T10:00:00.000Z"})),
        "unknown members are refused"
    );
    assert!(
        !new_client.is_valid(&json!({"phone": "555-1234"})),
        "name is required"
    );
    assert!(new_client.is_valid(&json!({"name": "A", "notes": "x".repeat(10_000)})));
    assert!(!new_client.is_valid(&json!({"name": "A", "notes": "x".repeat(10_001)})));
}

#[test]
fn query_and_status_values_the_description_accepts_are_exactly_the_ones_the_code_accepts() {
    let doc = description();
    let query = validator(&doc, &parameter_schema(&doc, "query"));
    let status = validator(&doc, &parameter_schema(&doc, "status"));
    let mut rng = Rng(0x5eed_0003);

    let mut values: Vec<String> = (0..4000)
        .map(|_| {
            let len = lengths(&mut rng, 100);
            rng.string(ALPHABET, len)
        })
        .collect();
    values.push(format!("  {}\t", "q".repeat(100)));
    values.push("q".repeat(101));
    assert_same_verdicts(
        "query",
        values,
        |v| accepts("query", v),
        |v| query.is_valid(&json!(v)),
    );

    let tokens = [
        "active", "inactive", ",", ",", " ", "\t", "\u{3000}", "act", "Active", "x", "\u{1c}",
    ];
    let values = (0..4000).map(|_| {
        let n = rng.below(6);
        (0..n)
            .map(|_| tokens[rng.below(tokens.len())])
            .collect::<String>()
    });
    assert_same_verdicts(
        "status",
        values,
        |v| accepts("status", v),
        |v| status.is_valid(&json!(v)),
    );
}

/// Whether the code accepts the list parameter `name=value`.
fn accepts(name: &str, value: &str) -> bool {
    ListQuery::parse([(name, value)]).is_ok()
}

#[test]
fn sort_paging_and_cursor_values_the_description_accepts_are_exactly_the_ones_the_code_accepts() {
    let doc = description();
    for (name, good, bad) in [
        (
            "sortBy",
            &["name", "phone", "status", "createdAt"][..],
            &["Name", "email", ""][..],
        ),
        ("sortOrder", &["asc", "desc"][..], &["ASC", "up", ""][..]),
    ] {
        let schema = validator(&doc, &parameter_schema(&doc, name));
        for value in good {
            assert!(
                accepts(name, value) && schema.is_valid(&json!(value)),
                "{name}={value}"
            );
        }
        for value in bad {
            assert!(
                !accepts(name, value) && !schema.is_valid(&json!(value)),
                "{name}={value}"
            );
        }
    }
    for (name, value, valid) in [
        ("limit", 1, true),
        ("limit", 100, true),
        ("limit", 0, false),
        ("limit", 101, false),
        ("offset", 0, true),
        ("offset", 1_000_000_000, true),
        ("offset", 1_000_000_001, false),
    ] {
        let schema = validator(&doc, &parameter_schema(&doc, name));
        assert_eq!(
            (
                accepts(name, &value.to_string()),
                schema.is_valid(&json!(value))
            ),
            (valid, valid),
            "{name}={value}"
        );
    }
    let cursor = validator(&doc, &parameter_schema(&doc, "cursor"));
    assert!(!accepts("cursor", "") && !cursor.is_valid(&json!("")));
    assert!(!accepts("cursor", &"c".repeat(4097)) && !cursor.is_valid(&json!("c".repeat(4097))));
}

#[test]
fn idempotency_keys_the_description_accepts_are_exactly_the_ones_the_code_accepts() {
    let doc = description();
    let schema = validator(&doc, &parameter_schema(&doc, "Idempotency-Key"));
    let mut rng = Rng(0x5eed_0004);
    let alphabet: Vec<char> = (0x20u8..=0x7e)
        .map(char::from)
        .chain(['\t', ' ', ' ', 'é', '\u{7f}'])
        .collect();
    let values = (0..4000).map(|_| {
        let len = lengths(&mut rng, 255);
        rng.string(&alphabet, len)
    });
    // What reaches the code is the field value without the spaces and tabs
    // around it: HTTP/1.1 strips them (the description allows them for that).
    let accepted =
        |value: &str| IdempotencyKey::parse(value.trim_matches([' ', '\t']).as_bytes()).is_ok();

    assert_same_verdicts("Idempotency-Key", values, accepted, |v| {
        schema.is_valid(&json!(v))
    });
}

// ------------------------------------------------------------- examples

#[test]
fn every_example_of_the_description_is_valid() {
    let doc = description();
    let mut checked = 0;
    let mut check = |what: &str, schema: &Value, example: &Value| {
        let problems = errors(&validator(&doc, schema), example);
        assert!(
            problems.is_empty(),
            "{what}: example {example} is invalid: {problems:?}"
        );
        checked += 1;
    };
    for (name, parameter) in doc["components"]["parameters"].as_object().unwrap() {
        if let Some(example) = parameter.get("example") {
            check(name, &parameter["schema"], example);
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(operation) = operation.as_object() else {
                continue;
            };
            let mut media = Vec::new();
            if let Some(body) = operation.get("requestBody") {
                media.push((
                    format!("{method} {path} body"),
                    &body["content"]["application/json"],
                ));
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                if let Some(content) = resolve(&doc, response).get("content") {
                    media.push((
                        format!("{method} {path} {status}"),
                        &content["application/json"],
                    ));
                }
            }
            for (what, media) in media {
                if let Some(example) = media.get("example") {
                    check(&what, &media["schema"], example);
                }
                for example in media
                    .get("examples")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|e| e.values())
                {
                    check(&what, &media["schema"], &resolve(&doc, example)["value"]);
                }
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            check(name, &component(&doc, name), example);
        }
    }
    assert!(checked >= 15, "only {checked} examples found");
}

#[test]
fn the_docs_page_examples_are_in_the_description() {
    let doc = description();
    let create = &doc["paths"]["/clients"]["post"]["requestBody"]["content"]["application/json"]
        ["examples"]["docsPage"]["value"];
    let update = &doc["paths"]["/clients/{id}"]["patch"]["requestBody"]["content"]
        ["application/json"]["examples"]["docsPage"]["value"];

    assert_eq!(create, &json!({"name": "John Doe", "phone": "+1 555-1234"}));
    assert_eq!(
        update,
        &json!({"status": "inactive", "notes": "No longer active"})
    );
    assert!(doc["servers"][0]["url"] == "https://your-app.com/api/v1");
    assert!(NewClient::from_json(&object(create.clone())).is_ok());
    assert!(ClientPatch::from_json(&object(update.clone())).is_ok());
}

//! Input that generators rarely try. Every request here must get a 4xx JSON
//! error or a success, never a 5xx, and the failures must change nothing.

use integration_tests::{Tenant, TestApi, TestRequest, TestResponse};
use lambda_http::http::Method;
use serde_json::{json, Value};

/// Sends a request and checks it was refused with a 4xx JSON error (never a 5xx).
async fn refused(api: &TestApi, request: TestRequest) -> TestResponse {
    let what = format!(
        "{} {}",
        request.method,
        request.uri.chars().take(80).collect::<String>()
    );
    let response = api.send(request).await;
    assert!(
        (400..500).contains(&response.status),
        "{what}: {} {}",
        response.status,
        response.body
    );
    assert!(
        response.body["error"]["code"].is_string(),
        "{what}: {}",
        response.body
    );
    response
}

fn post(tenant: &Tenant, body: Vec<u8>) -> TestRequest {
    TestRequest::new(Method::POST, "/api/v1/clients")
        .key(&tenant.key)
        .header("content-type", "application/json")
        .raw_body(body)
}

/// A client to attack, and a snapshot to compare with afterwards.
async fn victim(api: &TestApi, tenant: &Tenant) -> (String, Value) {
    let created = api
        .create(
            tenant,
            json!({"name": "Victim", "phone": "+1 555-0000", "notes": "keep"}),
        )
        .await;
    (
        format!("/api/v1/clients/{}", created["id"].as_str().unwrap()),
        created,
    )
}

async fn assert_unchanged(api: &TestApi, tenant: &Tenant, uri: &str, snapshot: &Value) {
    assert_eq!(api.get(tenant, uri).await.body["data"], *snapshot);
    assert_eq!(
        api.list(tenant, "").await["total"],
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn bodies_of_64_kib_plus_one_byte_are_refused_and_64_kib_accepted() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let body = |len: usize| {
        let prefix = r#"{"name":"Big","notes":""#;
        let padding = len - prefix.len() - 2;
        format!("{prefix}{}\"}}", " ".repeat(padding)).into_bytes()
    };
    let (at_limit, over, under) = (body(64 * 1024), body(64 * 1024 + 1), body(64 * 1024 - 1));
    assert_eq!((at_limit.len(), over.len()), (65_536, 65_537));

    let too_large = refused(&api, post(&tenant, over)).await;
    let accepted = api.send(post(&tenant, at_limit)).await;
    let under = api.send(post(&tenant, under)).await;

    assert_eq!(too_large.error_code(), "payload_too_large");
    assert_eq!(
        accepted.status, 400,
        "64 KiB is accepted as a body; its 65,000-character notes are over 10,000"
    );
    assert_eq!(accepted.error_fields(), ["notes"]);
    assert_eq!(under.status, 400);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_change_nothing() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let (uri, snapshot) = victim(&api, &tenant).await;
    let nested = format!("{{\"name\":{}1{}}}", "[".repeat(5_000), "]".repeat(5_000));
    let bodies: Vec<Vec<u8>> = vec![
        nested.into_bytes(),
        b"{\"name\":\"\xff\xfe\"}".to_vec(),
        b"\xef\xbb\xbf{\"name\":\"BOM\"}".to_vec(),
        br#"{"name":"A","name":"B"}"#.to_vec(),
        br#"{"name":"A\u0000B"}"#.to_vec(),
        br#"{"name":"line\nbreak"}"#.to_vec(),
        br#"{"name":"\u001b[31mred"}"#.to_vec(),
        br#"{"name":"\ud800"}"#.to_vec(),
        br#"{"name":123}"#.to_vec(),
        br#"{"name":["A"]}"#.to_vec(),
        br#"{"name":{"first":"A"}}"#.to_vec(),
        br#"{"name":"A","status":true}"#.to_vec(),
        br#"{"name":"A","phone":5551234}"#.to_vec(),
        br#"{"name":"A","notes":1e999}"#.to_vec(),
        br#"{"name":"A"} trailing"#.to_vec(),
        b"\x00".to_vec(),
    ];

    for body in bodies {
        refused(&api, post(&tenant, body.clone())).await;
        let patch = TestRequest::new(Method::PATCH, &uri)
            .key(&tenant.key)
            .header("content-type", "application/json")
            .raw_body(body);
        refused(&api, patch).await;
    }
    assert_unchanged(&api, &tenant, &uri, &snapshot).await;
}

#[tokio::test]
async fn content_type_variations_are_accepted_or_415() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let with_type = |content_type: &str| {
        TestRequest::new(Method::POST, "/api/v1/clients")
            .key(&tenant.key)
            .header("content-type", content_type)
            .raw_body(br#"{"name":"A"}"#.to_vec())
    };

    for accepted in [
        "application/json",
        "APPLICATION/JSON",
        "application/json;charset=UTF-8",
        "application/json ; charset=utf-8",
    ] {
        assert_eq!(
            api.send(with_type(accepted)).await.status,
            201,
            "{accepted}"
        );
    }
    for unsupported in [
        "text/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/merge-patch+json",
        "application/json-seq",
        "*/*",
    ] {
        assert_eq!(
            refused(&api, with_type(unsupported)).await.error_code(),
            "unsupported_media_type",
            "{unsupported}"
        );
    }
}

#[tokio::test]
async fn ten_thousand_query_parameters_are_a_validation_error() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    // Names without values keep the query under the 64 KiB a URI may have
    // (API Gateway itself refuses request lines over 10 KB).
    let many: Vec<String> = (0..10_000).map(|i| format!("p{i}")).collect();
    let repeated: Vec<&str> = (0..7_000).map(|_| "limit=5").collect();

    let unknown = refused(
        &api,
        TestRequest::new(Method::GET, &format!("/api/v1/clients?{}", many.join("&")))
            .key(&tenant.key),
    )
    .await;
    let duplicated = refused(
        &api,
        TestRequest::new(
            Method::GET,
            &format!("/api/v1/clients?{}", repeated.join("&")),
        )
        .key(&tenant.key),
    )
    .await;

    assert_eq!(unknown.error_code(), "validation_error");
    assert_eq!(unknown.error_fields().len(), 10_000);
    assert_eq!(duplicated.error_fields(), ["limit"]);
}

#[tokio::test]
async fn odd_query_values_are_a_validation_error_or_a_valid_search() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    for query in [
        "limit=%00",
        "limit=%F0%9F%98%80",
        "sortBy=%00",
        "status=%FF",
        "offset=1%00",
        "limit=1e1",
        "limit=+5",
    ] {
        refused(
            &api,
            TestRequest::new(Method::GET, &format!("/api/v1/clients?{query}")).key(&tenant.key),
        )
        .await;
    }
    for query in [
        "query=%00",
        "query=%F0%9F%98%80",
        "query=%25",
        "query=%27%20OR%201%3D1",
        "query=%5C",
    ] {
        let response = api.get(&tenant, &format!("/api/v1/clients?{query}")).await;
        assert_eq!(response.status, 200, "{query}: {}", response.body);
    }
}

#[tokio::test]
async fn a_100_kib_header_is_refused_cleanly() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let huge = "a".repeat(100 * 1024);

    let auth = refused(
        &api,
        TestRequest::new(Method::GET, "/api/v1/clients")
            .header("authorization", &format!("Bearer ba_{huge}")),
    )
    .await;
    let other = api
        .send(
            TestRequest::new(Method::GET, "/api/v1/clients")
                .key(&tenant.key)
                .header("x-padding", &huge),
        )
        .await;

    assert_eq!(auth.error_code(), "unauthorized");
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn hostile_path_ids_are_404_on_every_endpoint() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let (uri, snapshot) = victim(&api, &tenant).await;
    let id = uri.rsplit('/').next().unwrap().to_owned();

    for bad in [
        "..",
        "%2E%2E",
        "%2F",
        "..%2F..%2Fetc%2Fpasswd",
        "%C3%A9t%C3%A9",
        "%F0%9F%98%80",
        "%00",
        &format!("{id}%00"),
        &format!("{id}%20"),
        &id.to_uppercase().replace('-', ""),
        &format!("{{{id}}}"),
        &"9".repeat(5_000),
    ] {
        let bad_uri = format!("/api/v1/clients/{bad}");
        for method in [Method::GET, Method::DELETE] {
            let response = refused(
                &api,
                TestRequest::new(method.clone(), &bad_uri).key(&tenant.key),
            )
            .await;
            assert_eq!(response.status, 404, "{method} {bad}");
        }
        let patch = TestRequest::new(Method::PATCH, &bad_uri)
            .key(&tenant.key)
            .json(&json!({"name": "Hacked"}));
        assert_eq!(refused(&api, patch).await.status, 404, "PATCH {bad}");
    }
    assert_unchanged(&api, &tenant, &uri, &snapshot).await;
}

#[tokio::test]
async fn hostile_idempotency_keys_and_if_match_values_are_4xx() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let (uri, snapshot) = victim(&api, &tenant).await;

    for key in ["", &"k".repeat(256), "é"] {
        let request = post(&tenant, br#"{"name":"A"}"#.to_vec()).header("idempotency-key", key);
        refused(&api, request).await;
    }
    for tag in [
        "",
        "\"\"",
        "\"-1\"",
        "\"99999999999999999999999\"",
        "W/\"1\"",
        "\"1\"\"",
        "garbage",
    ] {
        let request = TestRequest::new(Method::PATCH, &uri)
            .key(&tenant.key)
            .header("if-match", tag)
            .json(&json!({"name": "Changed"}));
        assert_eq!(refused(&api, request).await.status, 412, "{tag:?}");
    }
    assert_unchanged(&api, &tenant, &uri, &snapshot).await;
}

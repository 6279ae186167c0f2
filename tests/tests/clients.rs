//! Create, get, update and delete through the handlers, against DynamoDB Local:
//! the contract's status codes, bodies, headers, validation and tenancy.

use integration_tests::{client_uri, TestApi, TestRequest};
use lambda_http::http::Method;
use serde_json::{json, Value};

const CLIENTS: &str = "/api/v1/clients";

#[tokio::test]
async fn create_answers_201_with_the_client_location_and_etag() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    let response = api
        .post(
            &tenant,
            CLIENTS,
            &json!({"name": "  John Doe ", "phone": " +1 555-1234 "}),
        )
        .await;

    assert_eq!(response.status, 201, "{}", response.body);
    let client = &response.body["data"];
    assert_eq!(client["name"], "John Doe");
    assert_eq!(client["phone"], "+1 555-1234");
    assert_eq!(client["status"], "active");
    assert_eq!(client["notes"], Value::Null);
    assert_eq!(client["createdAt"], client["updatedAt"]);
    let id = client["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(
        response.header("location"),
        Some(client_uri(client).as_str())
    );
    assert!(response.header("etag").is_some());
    let keys: Vec<&str> = client
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "phone",
            "status",
            "notes",
            "createdAt",
            "updatedAt"
        ]
    );
}

#[tokio::test]
async fn get_returns_the_created_client() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let created = api
        .create(
            &tenant,
            json!({"name": "Ann", "status": "inactive", "notes": "VIP"}),
        )
        .await;

    let response = api.get(&tenant, &client_uri(&created)).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.body["data"], created);
    assert!(response.header("etag").is_some());
}

#[tokio::test]
async fn patch_changes_only_the_given_fields_and_moves_updated_at() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let created = api
        .create(&tenant, json!({"name": "John Doe", "phone": "+1 555-1234"}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let response = api
        .patch(
            &tenant,
            &client_uri(&created),
            &json!({"status": "inactive", "notes": "No longer active"}),
        )
        .await;

    assert_eq!(response.status, 200, "{}", response.body);
    let updated = &response.body["data"];
    assert_eq!(updated["status"], "inactive");
    assert_eq!(updated["notes"], "No longer active");
    assert_eq!(updated["name"], "John Doe");
    assert_eq!(updated["phone"], "+1 555-1234");
    assert_eq!(updated["createdAt"], created["createdAt"]);
    assert!(updated["updatedAt"].as_str() > created["updatedAt"].as_str());
    assert_eq!(
        api.get(&tenant, &client_uri(&created)).await.body["data"],
        *updated
    );
}

#[tokio::test]
async fn empty_patch_returns_the_client_unchanged() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let created = api.create(&tenant, json!({"name": "Ann"})).await;

    let first = api.patch(&tenant, &client_uri(&created), &json!({})).await;
    let same_values = api
        .patch(
            &tenant,
            &client_uri(&created),
            &json!({"name": "Ann", "status": "active"}),
        )
        .await;

    assert_eq!(first.status, 200);
    assert_eq!(first.body["data"], created);
    assert_eq!(
        same_values.body["data"], created,
        "a patch that changes nothing is a no-op"
    );
}

#[tokio::test]
async fn null_and_empty_phone_clear_it_and_null_notes_clear_them() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let first = api
        .create(
            &tenant,
            json!({"name": "A", "phone": "555 1234", "notes": "x"}),
        )
        .await;
    let second = api
        .create(&tenant, json!({"name": "B", "phone": "555 1234"}))
        .await;

    let cleared = api
        .patch(
            &tenant,
            &client_uri(&first),
            &json!({"phone": null, "notes": null}),
        )
        .await;
    let emptied = api
        .patch(&tenant, &client_uri(&second), &json!({"phone": ""}))
        .await;

    assert_eq!(cleared.body["data"]["phone"], Value::Null);
    assert_eq!(cleared.body["data"]["notes"], Value::Null);
    assert_eq!(emptied.body["data"]["phone"], Value::Null);
}

#[tokio::test]
async fn delete_answers_success_then_404() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let created = api.create(&tenant, json!({"name": "Ann"})).await;

    let first = api.delete(&tenant, &client_uri(&created)).await;
    let second = api.delete(&tenant, &client_uri(&created)).await;
    let get = api.get(&tenant, &client_uri(&created)).await;

    assert_eq!(
        (first.status, first.body.clone()),
        (200, json!({"success": true}))
    );
    assert_eq!((second.status, second.error_code()), (404, "not_found"));
    assert_eq!(get.status, 404);
}

#[tokio::test]
async fn unknown_malformed_and_foreign_ids_are_all_404_on_every_endpoint() {
    let api = TestApi::start().await;
    let owner = api.tenant().await;
    let other = api.tenant().await;
    let theirs = api.create(&owner, json!({"name": "Secret"})).await;
    let ids = [
        theirs["id"].as_str().unwrap().to_owned(),
        shared::domain::model::ClientId::new().to_string(),
        "not-a-uuid".to_owned(),
        "2b1f0d9c-8e7a-4c3a-9a4e-2b1f0d9c8e7a".to_owned(),
        "%2E%2E".to_owned(),
        "%C3%A9".to_owned(),
    ];

    for id in &ids {
        let uri = format!("{CLIENTS}/{id}");
        let get = api.get(&other, &uri).await;
        let patch = api.patch(&other, &uri, &json!({"name": "Stolen"})).await;
        let delete = api.delete(&other, &uri).await;
        for (what, response) in [("get", &get), ("patch", &patch), ("delete", &delete)] {
            assert_eq!(
                (response.status, response.error_code()),
                (404, "not_found"),
                "{what} {id}"
            );
            assert_eq!(
                response.body,
                json!({"error": {"code": "not_found", "message": "No such client."}})
            );
        }
    }
    let untouched = api.get(&owner, &client_uri(&theirs)).await;
    assert_eq!(untouched.body["data"], theirs);
}

#[tokio::test]
async fn lists_never_show_another_organizations_clients() {
    let api = TestApi::start().await;
    let owner = api.tenant().await;
    let other = api.tenant().await;
    api.create(
        &owner,
        json!({"name": "Secret Person", "phone": "555 0000"}),
    )
    .await;

    for query in [
        "",
        "query=secret",
        "query=5550000",
        "sortBy=name",
        "status=active",
        "sortBy=status",
    ] {
        let list = api.list(&other, query).await;
        assert_eq!(
            (list["total"].clone(), list["data"].clone()),
            (json!(0), json!([])),
            "{query}"
        );
    }
}

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_keys_are_401_on_every_endpoint() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let created = api.create(&tenant, json!({"name": "Ann"})).await;
    let (revoked, info) = api
        .keys()
        .create_key(&tenant.org, "to revoke")
        .await
        .unwrap();
    api.keys()
        .revoke_key(&tenant.org, &info.key_id)
        .await
        .unwrap();
    let uri = client_uri(&created);
    let endpoints = [
        (Method::GET, CLIENTS.to_owned()),
        (Method::POST, CLIENTS.to_owned()),
        (Method::GET, uri.clone()),
        (Method::PATCH, uri.clone()),
        (Method::DELETE, uri.clone()),
    ];
    let headers = [
        None,
        Some("".to_owned()),
        Some(format!("Basic {}", tenant.key)),
        Some(tenant.key.clone()),
        Some(
            "Bearer ba_0000000000000000000000000000000000000000000000000000000000000000".to_owned(),
        ),
        Some(format!("Bearer {}", revoked.key)),
        Some(format!("Bearer {}x", tenant.key)),
    ];

    for (method, uri) in &endpoints {
        for header in &headers {
            let mut request = TestRequest::new(method.clone(), uri).json(&json!({"name": "X"}));
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = api.send(request).await;
            assert_eq!(
                (response.status, response.error_code()),
                (401, "unauthorized"),
                "{method} {uri} {header:?}"
            );
            assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        }
    }
    assert_eq!(
        api.get(&tenant, &uri).await.body["data"],
        created,
        "nothing changed"
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_spaces_are_ignored() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    for header in [
        format!("bearer {}", tenant.key),
        format!("  BEARER   {}  ", tenant.key),
    ] {
        let response = api
            .send(TestRequest::new(Method::GET, CLIENTS).header("authorization", &header))
            .await;
        assert_eq!(response.status, 200, "{header:?}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_once_the_cache_expires() {
    let api = TestApi::with_key_cache(std::time::Duration::from_secs(1)).await;
    let tenant = api.tenant().await;
    let (key, info) = api
        .keys()
        .create_key(&tenant.org, "short-lived")
        .await
        .unwrap();
    let list = || api.send(TestRequest::new(Method::GET, CLIENTS).key(&key.key));
    assert_eq!(list().await.status, 200);

    api.keys()
        .revoke_key(&tenant.org, &info.key_id)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    assert_eq!(list().await.status, 401);
}

#[tokio::test]
async fn each_invalid_field_is_a_validation_error_naming_it() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": null}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"name": 42}), "name"),
        (json!({"name": "A\u{0}B"}), "name"),
        (json!({"name": "A", "phone": "12"}), "phone"),
        (json!({"name": "A", "phone": "555-CALL-NOW"}), "phone"),
        (json!({"name": "A", "phone": "1".repeat(33)}), "phone"),
        (json!({"name": "A", "phone": 5551234}), "phone"),
        (json!({"name": "A", "status": "archived"}), "status"),
        (json!({"name": "A", "status": null}), "status"),
        (json!({"name": "A", "notes": "x".repeat(10_001)}), "notes"),
        (json!({"name": "A", "notes": ["x"]}), "notes"),
        (
            json!({"name": "A", "id": "0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a"}),
            "id",
        ),
        (
            json!({"name": "A", "createdAt": "2026-01-01T00:00:00.000Z"}),
            "createdAt",
        ),
        (json!({"name": "A", "email": "a@example.com"}), "email"),
    ];

    for (body, field) in cases {
        let response = api.post(&tenant, CLIENTS, &body).await;
        assert_eq!(
            (response.status, response.error_code()),
            (400, "validation_error"),
            "{body}"
        );
        assert_eq!(response.error_fields(), [field], "{body}");
    }
    assert_eq!(
        api.list(&tenant, "").await["total"],
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn all_field_errors_of_one_request_are_reported_together() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let created = api.create(&tenant, json!({"name": "Ann"})).await;

    let response = api
        .patch(
            &tenant,
            &client_uri(&created),
            &json!({"name": "", "phone": "x", "status": "gone", "extra": 1}),
        )
        .await;

    assert_eq!(response.status, 400);
    let mut fields = response.error_fields();
    fields.sort_unstable();
    assert_eq!(fields, ["extra", "name", "phone", "status"]);
    assert_eq!(
        api.get(&tenant, &client_uri(&created)).await.body["data"],
        created
    );
}

#[tokio::test]
async fn limits_are_inclusive_at_the_boundary() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    let client = api
        .create(
            &tenant,
            json!({"name": "é".repeat(200), "phone": "1".repeat(32), "notes": "n".repeat(10_000)}),
        )
        .await;

    assert_eq!(client["name"].as_str().unwrap().chars().count(), 200);
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_invalid_json() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    for body in [
        &b"not json"[..],
        b"[]",
        b"\"name\"",
        b"null",
        b"",
        b"{\"name\":\"A\"",
        b"\xff\xfe\x00",
        b"{\"name\":\"A\",\"name\":\"B\"}",
    ] {
        let request = TestRequest::new(Method::POST, CLIENTS)
            .key(&tenant.key)
            .header("content-type", "application/json")
            .raw_body(body.to_vec());
        let response = api.send(request).await;
        assert_eq!(
            (response.status, response.error_code()),
            (400, "invalid_json"),
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_and_other_media_types_415() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let huge = json!({"name": "A", "notes": "x".repeat(70_000)});

    let too_large = api.post(&tenant, CLIENTS, &huge).await;
    let form = api
        .send(
            TestRequest::new(Method::POST, CLIENTS)
                .key(&tenant.key)
                .header("content-type", "application/x-www-form-urlencoded")
                .raw_body(b"name=A".to_vec()),
        )
        .await;
    let charset = api
        .send(
            TestRequest::new(Method::POST, CLIENTS)
                .key(&tenant.key)
                .header("content-type", "application/json; charset=utf-8")
                .raw_body(br#"{"name":"A"}"#.to_vec()),
        )
        .await;

    assert_eq!(
        (too_large.status, too_large.error_code()),
        (413, "payload_too_large")
    );
    assert_eq!(
        (form.status, form.error_code()),
        (415, "unsupported_media_type")
    );
    assert_eq!(charset.status, 201);
}

#[tokio::test]
async fn every_answer_carries_the_gateway_request_id() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    let ok = api.get(&tenant, CLIENTS).await;
    let refused = api.send(TestRequest::new(Method::GET, CLIENTS)).await;

    assert_eq!(ok.header("x-request-id"), Some("test-request-id"));
    assert_eq!(refused.header("x-request-id"), Some("test-request-id"));
}

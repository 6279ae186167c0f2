//! Writes that race: `If-Match` preconditions, many writers holding the same
//! `ETag`, and per-organization counts under concurrent mixed writes.

use integration_tests::{client_uri, join_all, Tenant, TestApi, TestRequest};
use lambda_http::http::Method;
use serde_json::json;

/// Creates a client named Ann; returns its URI and its `ETag`.
async fn create_ann(api: &TestApi, tenant: &Tenant) -> (String, String) {
    let created = api
        .create_until_answered(tenant, &json!({"name": "Ann"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let etag = created.header("etag").expect("an ETag").to_owned();
    (client_uri(&created.body["data"]), etag)
}

#[tokio::test]
async fn etag_changes_on_every_real_change_only() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let created = api
        .post(&tenant, "/api/v1/clients", &json!({"name": "Ann"}))
        .await;
    let uri = client_uri(&created.body["data"]);

    let got = api.get(&tenant, &uri).await;
    let noop = api.patch(&tenant, &uri, &json!({"name": "Ann"})).await;
    let changed = api.patch(&tenant, &uri, &json!({"name": "Anna"})).await;

    assert_eq!(created.header("etag"), got.header("etag"));
    assert_eq!(created.header("etag"), noop.header("etag"));
    assert_ne!(created.header("etag"), changed.header("etag"));
}

#[tokio::test]
async fn stale_if_match_is_412_and_changes_nothing() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let (uri, stale) = create_ann(&api, &tenant).await;
    let current = api.patch(&tenant, &uri, &json!({"notes": "v2"})).await;

    let patch = api
        .send(
            TestRequest::new(Method::PATCH, &uri)
                .key(&tenant.key)
                .header("if-match", &stale)
                .json(&json!({"notes": "lost"})),
        )
        .await;
    let delete = api
        .send(
            TestRequest::new(Method::DELETE, &uri)
                .key(&tenant.key)
                .header("if-match", &stale),
        )
        .await;
    let weak = api
        .send(
            TestRequest::new(Method::DELETE, &uri)
                .key(&tenant.key)
                .header(
                    "if-match",
                    &format!("W/{}", current.header("etag").unwrap()),
                ),
        )
        .await;

    for response in [&patch, &delete, &weak] {
        assert_eq!(
            (response.status, response.error_code()),
            (412, "precondition_failed")
        );
    }
    assert_eq!(
        api.get(&tenant, &uri).await.body["data"],
        current.body["data"]
    );
}

#[tokio::test]
async fn current_if_match_and_star_let_the_write_through() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let (uri, etag) = create_ann(&api, &tenant).await;

    let patch = api
        .send(
            TestRequest::new(Method::PATCH, &uri)
                .key(&tenant.key)
                .header("if-match", &etag)
                .json(&json!({"status": "inactive"})),
        )
        .await;
    let delete = api
        .send(
            TestRequest::new(Method::DELETE, &uri)
                .key(&tenant.key)
                .header("if-match", "*"),
        )
        .await;

    assert_eq!(patch.status, 200);
    assert_eq!(delete.status, 200);
}

#[tokio::test]
async fn of_eight_writers_holding_the_same_etag_exactly_one_wins() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let (uri, etag) = create_ann(&api, &tenant).await;

    let writers = (0..8).map(|i| {
        let request = TestRequest::new(Method::PATCH, &uri)
            .key(&tenant.key)
            .header("if-match", &etag)
            .json(&json!({"notes": format!("writer {i}")}));
        api.send_until_answered(request)
    });
    let responses = join_all(writers).await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    let winner = responses.iter().find(|r| r.status == 200).unwrap();
    let stored = api.get(&tenant, &uri).await;
    assert_eq!(stored.body["data"]["notes"], winner.body["data"]["notes"]);
    assert_eq!(stored.header("etag"), winner.header("etag"));
}

#[tokio::test]
async fn counts_stay_exact_under_thirty_concurrent_mixed_writes() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let mut existing = Vec::new();
    for i in 0..20 {
        existing.push(
            api.create(&tenant, json!({"name": format!("Existing {i}")}))
                .await,
        );
    }

    // Each write as a client following the docs page sends it: a 503
    // (above capacity on a slow machine) is repeated, a create with its
    // idempotency key, until it is answered.
    let writes = (0..30).map(|i| {
        let target_uri = client_uri(&existing[i % 20]);
        let request = match i % 3 {
            0 => TestRequest::keyed_create(
                &tenant.key,
                &format!("mixed-{i}"),
                &json!({"name": format!("New {i}"), "status": "inactive"}),
            ),
            1 => TestRequest::new(Method::DELETE, &target_uri).key(&tenant.key),
            _ => TestRequest::new(Method::PATCH, &target_uri)
                .key(&tenant.key)
                .json(&json!({"status": "inactive"})),
        };
        api.send_until_answered(request)
    });
    let responses = join_all(writes).await;

    eprintln!(
        "30 mixed writes: {} succeeded, {} found their client gone (404)",
        responses.iter().filter(|r| r.status < 300).count(),
        responses.iter().filter(|r| r.status == 404).count(),
    );
    for response in &responses {
        assert!(
            matches!(response.status, 200 | 201 | 404),
            "{} {}",
            response.status,
            response.body
        );
    }
    let (active, inactive) = api.recount(&tenant.org).await;
    let counts = api.app.clients.counts(&tenant.org).await.unwrap();
    assert_eq!((counts.active, counts.inactive), (active, inactive));
    let list = api.list(&tenant, "").await;
    assert_eq!(list["total"], active + inactive);
}

#[tokio::test]
async fn a_repeated_idempotency_key_with_the_same_body_replays_the_first_answer() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let body = json!({"name": "John Doe", "phone": "+1 555-1234"});

    let first = api
        .send(TestRequest::keyed_create(&tenant.key, "order-42", &body))
        .await;
    let again = api
        .send(TestRequest::keyed_create(&tenant.key, "order-42", &body))
        .await;

    assert_eq!(first.status, 201);
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        api.list(&tenant, "").await["total"],
        1,
        "nothing was created twice"
    );
}

#[tokio::test]
async fn a_reused_idempotency_key_with_another_body_is_409() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    api.send(TestRequest::keyed_create(
        &tenant.key,
        "k1",
        &json!({"name": "Ann"}),
    ))
    .await;

    let response = api
        .send(TestRequest::keyed_create(
            &tenant.key,
            "k1",
            &json!({"name": "Bob"}),
        ))
        .await;

    assert_eq!((response.status, response.error_code()), (409, "conflict"));
    assert_eq!(api.list(&tenant, "").await["total"], 1);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_organization() {
    let api = TestApi::start().await;
    let first = api.tenant().await;
    let second = api.tenant().await;

    let a = api
        .send(TestRequest::keyed_create(
            &first.key,
            "shared-key",
            &json!({"name": "Ann"}),
        ))
        .await;
    let b = api
        .send(TestRequest::keyed_create(
            &second.key,
            "shared-key",
            &json!({"name": "Bob"}),
        ))
        .await;

    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.body["data"]["id"], b.body["data"]["id"]);
}

#[tokio::test]
async fn malformed_idempotency_keys_are_a_validation_error() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    for key in ["k".repeat(256), "tab\there".to_owned()] {
        let response = api
            .send(TestRequest::keyed_create(
                &tenant.key,
                &key,
                &json!({"name": "Ann"}),
            ))
            .await;
        assert_eq!(
            (response.status, response.error_fields()),
            (400, vec!["Idempotency-Key"]),
            "{key:?}"
        );
    }
    assert_eq!(api.list(&tenant, "").await["total"], 0);
}

#[tokio::test]
async fn identical_requests_racing_with_one_key_create_exactly_one_client() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let body = json!({"name": "Racer"});

    let responses =
        join_all((0..10).map(|_| {
            api.send_until_answered(TestRequest::keyed_create(&tenant.key, "race", &body))
        }))
        .await;

    let ids: std::collections::HashSet<_> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["data"]["id"].clone()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(api.list(&tenant, "").await["total"], 1);
    assert_eq!(api.recount(&tenant.org).await, (1, 0));
}

//! `local-api` serves requests with a fixed number of function containers,
//! each one request at a time, as Lambda does
//! (`tools/local-api/src/containers.rs`): a request that finds none free
//! within the wait is refused at once with 503 "nothing was changed", and
//! the containers serve again as soon as one is free.

use std::time::{Duration, Instant};

use dynamodb_proxy::{Fault, ProxyConfig};
use integration_tests::{dynamodb_local_endpoint, LocalServer, TestApi, TestRequest, TEST_TABLE};
use lambda_http::http::Method;
use local_api::Containers;
use serde_json::json;
use shared::function::Config;
use shared::App;

#[tokio::test]
async fn a_request_that_finds_no_free_container_is_refused_at_once_and_changes_nothing() {
    // One container, kept busy by a create whose answer the proxy holds for
    // 3 s: the create gives up at its write deadline (0.7 s after its
    // handler started), so the list arrives 0.1 s in and is refused 0.2 s
    // later while the container is still busy.
    let config = Config::for_table(TEST_TABLE);
    let (proxy, api) =
        TestApi::through_proxy(ProxyConfig::transparent(dynamodb_local_endpoint()), &config).await;
    let client = api.table.client.clone();
    let tenant = api.tenant().await;
    let wait = Duration::from_millis(200);
    let server = LocalServer::start(Containers::new(1, wait, || {
        App::new(client.clone(), &config)
    }))
    .await;
    proxy.inject(Fault::WithholdAnswer {
        operation: "TransactWriteItems".into(),
        count: 3,
        delay: Some(Duration::from_secs(3)),
    });
    let create = TestRequest::new(Method::POST, "/api/v1/clients")
        .key(&tenant.key)
        .json(&json!({"name": "Held Create"}));
    let busy = {
        let server = &server;
        let create = create.clone();
        async move { server.request(&create).await }
    };
    let refused_list = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let list = TestRequest::new(Method::GET, "/api/v1/clients").key(&tenant.key);
        (server.request(&list).await, started.elapsed())
    };

    let (held, (refused, refused_after)) = tokio::join!(busy, refused_list);

    assert_eq!(held.status, 503, "{}", held.body);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "unavailable");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        refused_after >= wait && refused_after < Duration::from_secs(3),
        "refused after {refused_after:?}, not after waiting {wait:?} while the container was busy"
    );
    let after = TestRequest::new(Method::GET, "/api/v1/clients").key(&tenant.key);
    let served = server.request(&after).await;
    assert_eq!(served.status, 200, "{}", served.body);
}

//! What a caller can observe while the indexes lag behind the table
//! (`docs/data-model.md`, "Consistency"), one test per statement, through
//! the DynamoDB-faithful proxy with index lag on (a global secondary index
//! `Query` sees the table as it was [`LAG`] ago, as the service's indexes
//! do) and nothing else:
//!
//! - a write is seen at once by `GET`, by search and by every `total`;
//! - a plain list page may miss a client written in the last moment (up to
//!   the lag), but never holds one outside its `status` filter, never one
//!   out of its sort order, never one that is gone, and is refilled rather
//!   than short while more matching clients exist;
//! - once the lag has passed, walking every page by cursor yields every
//!   client once.

use std::time::Duration;

use dynamodb_proxy::{Proxy, ProxyConfig};
use integration_tests::{client_uri, dynamodb_local_endpoint, ids, Tenant, TestApi, TEST_TABLE};
use serde_json::{json, Value};
use shared::function::Config;

/// How far behind the indexes are.
const LAG: Duration = Duration::from_millis(1500);

/// The API through a proxy whose indexes lag by [`LAG`].
async fn api_with_lagging_indexes() -> (Proxy, TestApi) {
    let config = ProxyConfig {
        index_lag: Some(LAG),
        ..ProxyConfig::transparent(dynamodb_local_endpoint())
    };
    TestApi::through_proxy(config, &Config::for_table(TEST_TABLE)).await
}

/// Waits until every write so far has reached the indexes.
async fn lag_passes() {
    tokio::time::sleep(LAG + Duration::from_millis(500)).await;
}

fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|client| client["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_named(api: &TestApi, tenant: &Tenant, names: &[&str]) -> Vec<Value> {
    let mut created = Vec::new();
    for name in names {
        created.push(api.create(tenant, json!({ "name": name })).await);
    }
    created
}

#[tokio::test]
async fn a_new_client_is_fetched_searched_and_counted_at_once_and_listed_once_the_lag_has_passed() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;

    let created = api.create(&tenant, json!({"name": "Fresh Felicity"})).await;
    let fetched = api.get(&tenant, &client_uri(&created)).await;
    let searched = api.list(&tenant, "query=felicity").await;
    let listed_at_once = api.list(&tenant, "").await;
    lag_passes().await;
    let listed_later = api.list(&tenant, "").await;

    assert_eq!(fetched.status, 200);
    assert_eq!(ids(&searched), [created["id"].as_str().unwrap()]);
    assert_eq!(listed_at_once["total"], 1, "total counts it at once");
    assert_eq!(
        listed_at_once["data"],
        json!([]),
        "the index has not seen it yet (the proxy's lag is on)"
    );
    assert_eq!(ids(&listed_later), [created["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn a_status_filtered_page_never_holds_a_client_that_has_left_that_status() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;
    let created = create_named(&api, &tenant, &["Ada", "Bea", "Cy"]).await;
    lag_passes().await;

    let patched = api
        .patch(
            &tenant,
            &client_uri(&created[1]),
            &json!({"status": "inactive"}),
        )
        .await;
    let active = api.list(&tenant, "status=active").await;
    let inactive_at_once = api.list(&tenant, "status=inactive").await;
    lag_passes().await;
    let inactive_later = api.list(&tenant, "status=inactive").await;

    assert_eq!(patched.status, 200);
    assert_eq!(names(&active), ["Ada", "Cy"]);
    assert_eq!(active["total"], 2, "totals follow the change at once");
    assert_eq!(inactive_at_once["total"], 1);
    assert!(
        names(&inactive_at_once).is_empty() || names(&inactive_at_once) == ["Bea"],
        "{inactive_at_once}"
    );
    assert_eq!(names(&inactive_later), ["Bea"]);
}

#[tokio::test]
async fn a_renamed_client_never_appears_out_of_order() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;
    let created = create_named(&api, &tenant, &["Bob", "Carl", "Dan"]).await;
    lag_passes().await;

    api.patch(&tenant, &client_uri(&created[2]), &json!({"name": "Aaron"}))
        .await;
    let at_once = api.list(&tenant, "sortBy=name").await;
    let searched = api.list(&tenant, "query=aaron").await;
    lag_passes().await;
    let later = api.list(&tenant, "sortBy=name").await;

    assert_eq!(
        names(&at_once),
        ["Bob", "Carl"],
        "not at its old place as Aaron"
    );
    assert_eq!(at_once["total"], 3);
    assert_eq!(
        names(&searched),
        ["Aaron"],
        "search sees the rename at once"
    );
    assert_eq!(names(&later), ["Aaron", "Bob", "Carl"]);
}

#[tokio::test]
async fn a_page_is_refilled_past_clients_deleted_a_moment_ago() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;
    let created = create_named(&api, &tenant, &["A1", "A2", "A3", "A4", "A5", "A6"]).await;
    lag_passes().await;

    for client in &created[..3] {
        let deleted = api.delete(&tenant, &client_uri(client)).await;
        assert_eq!(deleted.status, 200);
    }
    let page = api.list(&tenant, "limit=3").await;
    let gone = api.get(&tenant, &client_uri(&created[0])).await;
    let searched = api.list(&tenant, "query=a1").await;

    assert_eq!(names(&page), ["A4", "A5", "A6"], "refilled, not short");
    assert_eq!(page["total"], 3);
    assert_eq!(page["nextCursor"], Value::Null);
    assert_eq!(gone.status, 404);
    assert_eq!(searched["total"], 0);
}

#[tokio::test]
async fn once_the_lag_has_passed_every_page_by_cursor_yields_every_client_once() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;
    let mut expected = Vec::new();
    for i in 0..13 {
        let created = api
            .create(
                &tenant,
                json!({"name": format!("Walker {:02}", (i * 7) % 13), "status": if i % 3 == 0 { "inactive" } else { "active" }}),
            )
            .await;
        expected.push(created["id"].as_str().unwrap().to_owned());
    }
    expected.sort();
    lag_passes().await;

    for order in [
        "sortBy=name",
        "sortBy=createdAt&sortOrder=desc",
        "sortBy=status",
    ] {
        let mut seen = Vec::new();
        let mut query = format!("{order}&limit=4");
        loop {
            let page = api.list(&tenant, &query).await;
            seen.extend(ids(&page));
            match page["nextCursor"].as_str() {
                Some(cursor) => query = format!("{order}&limit=4&cursor={cursor}"),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, expected, "{order}");
    }
}

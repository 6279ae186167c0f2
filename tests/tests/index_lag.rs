//! Every read sees every write at once, even where DynamoDB would lag
//! (`docs/data-model.md`, "Consistency"): through the DynamoDB-faithful
//! proxy with index lag on (a global secondary index `Query` would see the
//! table as it was [`LAG`] ago, as the service's indexes do). Lists read
//! order items and search reads the search index, both in the base table
//! and strongly consistent, so there is nothing to wait for, one test per
//! statement:
//!
//! - a write is seen at once by `GET`, by search, by every `total` and by
//!   every list page;
//! - a status change or a rename moves the client to its new place at once
//!   (never shown outside its `status` filter or out of its sort order);
//! - a deleted client is on no page, and the page is full while more
//!   clients exist;
//! - walking every page by cursor right after the writes yields every
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
async fn a_new_client_is_fetched_searched_counted_and_listed_at_once() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;

    let created = api.create(&tenant, json!({"name": "Fresh Felicity"})).await;
    let fetched = api.get(&tenant, &client_uri(&created)).await;
    let searched = api.list(&tenant, "query=felicity").await;
    let listed = api.list(&tenant, "").await;

    assert_eq!(fetched.status, 200);
    assert_eq!(ids(&searched), [created["id"].as_str().unwrap()]);
    assert_eq!(listed["total"], 1);
    assert_eq!(ids(&listed), [created["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn a_status_change_moves_the_client_between_filtered_pages_at_once() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;
    let created = create_named(&api, &tenant, &["Ada", "Bea", "Cy"]).await;

    let patched = api
        .patch(
            &tenant,
            &client_uri(&created[1]),
            &json!({"status": "inactive"}),
        )
        .await;
    let active = api.list(&tenant, "status=active").await;
    let inactive = api.list(&tenant, "status=inactive").await;
    let by_status = api.list(&tenant, "sortBy=status").await;

    assert_eq!(patched.status, 200);
    assert_eq!(names(&active), ["Ada", "Cy"]);
    assert_eq!(active["total"], 2);
    assert_eq!(names(&inactive), ["Bea"]);
    assert_eq!(inactive["total"], 1);
    assert_eq!(names(&by_status), ["Ada", "Cy", "Bea"]);
}

#[tokio::test]
async fn a_renamed_client_is_at_its_new_place_at_once() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;
    let created = create_named(&api, &tenant, &["Bob", "Carl", "Dan"]).await;

    api.patch(&tenant, &client_uri(&created[2]), &json!({"name": "Aaron"}))
        .await;
    let by_name = api.list(&tenant, "sortBy=name").await;
    let searched = api.list(&tenant, "query=aaron").await;
    let old_name = api.list(&tenant, "query=dan").await;

    assert_eq!(names(&by_name), ["Aaron", "Bob", "Carl"]);
    assert_eq!(by_name["total"], 3);
    assert_eq!(names(&searched), ["Aaron"]);
    assert_eq!(old_name["total"], 0);
}

#[tokio::test]
async fn a_page_holds_no_client_deleted_a_moment_ago_and_is_full() {
    let (_proxy, api) = api_with_lagging_indexes().await;
    let tenant = api.tenant().await;
    let created = create_named(&api, &tenant, &["A1", "A2", "A3", "A4", "A5", "A6"]).await;

    for client in &created[..3] {
        let deleted = api.delete(&tenant, &client_uri(client)).await;
        assert_eq!(deleted.status, 200);
    }
    let page = api.list(&tenant, "limit=3").await;
    let gone = api.get(&tenant, &client_uri(&created[0])).await;
    let searched = api.list(&tenant, "query=a1").await;

    assert_eq!(names(&page), ["A4", "A5", "A6"]);
    assert_eq!(page["total"], 3);
    assert_eq!(page["nextCursor"], Value::Null);
    assert_eq!(gone.status, 404);
    assert_eq!(searched["total"], 0);
}

#[tokio::test]
async fn right_after_the_writes_every_page_by_cursor_yields_every_client_once() {
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

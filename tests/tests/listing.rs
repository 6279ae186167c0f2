//! `GET /clients` against DynamoDB Local: sorting with ties, paging exactly
//! once, status filters, search, exact totals, parameter validation, and what
//! a page costs in DynamoDB reads.

use integration_tests::{
    expected_order, ids, index_settled, join_all, sample_clients, Tenant, TestApi,
};
use serde_json::{json, Value};
use shared::domain::list_query::{ListQuery, SortField, SortOrder, StatusFilter};
use shared::domain::model::Status;

/// Clients made to collide on every sort field: equal names in other cases,
/// equal phones, missing phones, both statuses.
async fn create_tricky_clients(api: &TestApi, tenant: &Tenant) -> Vec<Value> {
    let bodies = [
        json!({"name": "bob", "phone": "+1 555-0002", "status": "active"}),
        json!({"name": "Bob", "phone": "+1 555-0001", "status": "inactive"}),
        json!({"name": "alice", "status": "active"}),
        json!({"name": "Alice", "phone": "+1 555-0002", "status": "inactive"}),
        json!({"name": "ALICE", "phone": "(555) 0003", "status": "active"}),
        json!({"name": "Ångström", "phone": "555.0004", "status": "inactive"}),
        json!({"name": "zoë", "status": "active"}),
        json!({"name": "Zoe", "phone": "+1 555-0001", "status": "active"}),
        json!({"name": "bob", "phone": "+1 555-0002", "status": "active"}),
        json!({"name": "Émile", "status": "inactive"}),
    ];
    let mut created = Vec::new();
    for body in bodies {
        created.push(api.create(tenant, body).await);
    }
    // An arrange step: the clients are in the list indexes before the act.
    index_settled().await;
    created
}

const SORT_FIELDS: [&str; 4] = ["name", "phone", "status", "createdAt"];

#[tokio::test]
async fn every_sort_field_and_order_follows_the_contract_with_ties_broken_by_id() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let clients = create_tricky_clients(&api, &tenant).await;

    for sort_by in SORT_FIELDS {
        for (order, descending) in [("asc", false), ("desc", true)] {
            let list = api
                .list(
                    &tenant,
                    &format!("sortBy={sort_by}&sortOrder={order}&limit=100"),
                )
                .await;
            assert_eq!(
                ids(&list),
                expected_order(&clients, sort_by, descending),
                "sortBy={sort_by} {order}"
            );
            assert_eq!(list["total"], 10);
        }
    }
}

#[tokio::test]
async fn default_order_is_creation_ascending() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let clients = create_tricky_clients(&api, &tenant).await;

    let list = api.list(&tenant, "").await;

    let created_order: Vec<String> = clients
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids(&list), created_order);
    assert_eq!(
        (list["limit"].clone(), list["offset"].clone()),
        (json!(50), json!(0))
    );
}

#[tokio::test]
async fn paging_with_offset_yields_every_client_exactly_once_in_every_order() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let seeded = sample_clients(23);
    api.seed(&tenant.org, &seeded).await;

    for sort_by in SORT_FIELDS {
        for order in ["asc", "desc"] {
            for status in ["", "active", "inactive"] {
                let base = format!("sortBy={sort_by}&sortOrder={order}&status={status}");
                let whole = ids(&api.list(&tenant, &format!("{base}&limit=100")).await);
                let mut paged = Vec::new();
                for offset in (0..30).step_by(4) {
                    let page = api
                        .list(&tenant, &format!("{base}&limit=4&offset={offset}"))
                        .await;
                    assert_eq!(
                        page["total"].as_u64().unwrap() as usize,
                        whole.len(),
                        "{base}"
                    );
                    paged.extend(ids(&page));
                }
                assert_eq!(paged, whole, "{base}");
                let expected = seeded
                    .iter()
                    .filter(|c| status.is_empty() || c.status.as_str() == status)
                    .count();
                assert_eq!(whole.len(), expected, "{base}");
            }
        }
    }
}

#[tokio::test]
async fn status_filters_select_and_count_by_status() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let clients = create_tricky_clients(&api, &tenant).await;
    let with_status = |status: &str| clients.iter().filter(|c| c["status"] == status).count();

    let active = api.list(&tenant, "status=active").await;
    let inactive = api.list(&tenant, "status=,inactive,").await;
    let both = api.list(&tenant, "status=active,inactive").await;

    assert_eq!(active["total"], with_status("active"));
    assert!(active["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "active"));
    assert_eq!(inactive["total"], with_status("inactive"));
    assert!(inactive["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "inactive"));
    assert_eq!(both["total"], 10);
}

#[tokio::test]
async fn search_finds_names_by_unicode_case_insensitive_substring() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    for name in ["Chloé Éloïse", "ÉLODIE", "Straße", "John Doe", "Σοφία"] {
        api.create(&tenant, json!({"name": name})).await;
    }
    let names = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };

    let elo = api.list(&tenant, "query=%C3%A9LO&sortBy=name").await;
    let sofia = api.list(&tenant, "query=%CE%A3%CE%9F%CE%A6").await;
    let doe = api.list(&tenant, "query=%20%20doe%20").await;

    assert_eq!(names(&elo), ["Chloé Éloïse", "ÉLODIE"]);
    assert_eq!(elo["total"], 2);
    assert_eq!(names(&sofia), ["Σοφία"]);
    assert_eq!(names(&doe), ["John Doe"]);
}

#[tokio::test]
async fn search_by_phone_matches_digits_in_any_notation() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let john = api
        .create(&tenant, json!({"name": "John Doe", "phone": "+1 555-1234"}))
        .await;
    api.create(&tenant, json!({"name": "Jane Roe", "phone": "+1 555-9876"}))
        .await;
    api.create(&tenant, json!({"name": "No Phone"})).await;

    for query in [
        "5551234",
        "555-1234",
        "(555)%201234",
        "%2B1%20555%201234",
        "1234",
    ] {
        let list = api.list(&tenant, &format!("query={query}")).await;
        assert_eq!(ids(&list), [john["id"].as_str().unwrap()], "query={query}");
        assert_eq!(list["total"], 1);
    }
    assert_eq!(api.list(&tenant, "query=555").await["total"], 2);
    assert_eq!(api.list(&tenant, "query=5559999").await["total"], 0);
}

#[tokio::test]
async fn search_combines_with_status_filter_sorting_and_paging() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let clients = create_tricky_clients(&api, &tenant).await;
    let matching: Vec<Value> = clients
        .iter()
        .filter(|c| {
            c["name"].as_str().unwrap().to_lowercase().contains("b")
                || c["name"].as_str().unwrap().to_lowercase().contains("li")
        })
        .cloned()
        .collect();
    let bob: Vec<Value> = clients
        .iter()
        .filter(|c| {
            c["name"].as_str().unwrap().to_lowercase().contains("bob") && c["status"] == "active"
        })
        .cloned()
        .collect();

    let active_bobs = api
        .list(
            &tenant,
            "query=BOB&status=active&sortBy=phone&sortOrder=desc",
        )
        .await;
    let first = api.list(&tenant, "query=li&sortBy=name&limit=2").await;
    let second = api
        .list(&tenant, "query=li&sortBy=name&limit=2&offset=2")
        .await;

    assert_eq!(ids(&active_bobs), expected_order(&bob, "phone", true));
    assert_eq!(active_bobs["total"], 2);
    let alices: Vec<Value> = matching
        .into_iter()
        .filter(|c| c["name"].as_str().unwrap().to_lowercase().contains("li"))
        .collect();
    assert_eq!(first["total"].as_u64().unwrap() as usize, alices.len());
    let mut paged = ids(&first);
    paged.extend(ids(&second));
    assert_eq!(paged, expected_order(&alices, "name", false));
}

#[tokio::test]
async fn blank_query_means_no_search() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    create_tricky_clients(&api, &tenant).await;

    assert_eq!(api.list(&tenant, "query=%20%20").await["total"], 10);
}

#[tokio::test]
async fn totals_follow_creates_deletes_and_status_changes() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let a = api.create(&tenant, json!({"name": "A"})).await;
    let b = api.create(&tenant, json!({"name": "B"})).await;
    api.create(&tenant, json!({"name": "C", "status": "inactive"}))
        .await;

    api.patch(
        &tenant,
        &format!("/api/v1/clients/{}", a["id"].as_str().unwrap()),
        &json!({"status": "inactive"}),
    )
    .await;
    api.delete(
        &tenant,
        &format!("/api/v1/clients/{}", b["id"].as_str().unwrap()),
    )
    .await;

    assert_eq!(api.list(&tenant, "").await["total"], 2);
    assert_eq!(api.list(&tenant, "status=active").await["total"], 0);
    assert_eq!(api.list(&tenant, "status=inactive").await["total"], 2);
}

#[tokio::test]
async fn thirty_concurrent_creates_give_an_exact_total() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;

    let creates = (0..30).map(|i| {
        let (api, tenant) = (&api, &tenant);
        let status = if i % 2 == 0 { "active" } else { "inactive" };
        async move {
            api.create_until_answered(tenant, &json!({"name": format!("C{i}"), "status": status}))
                .await
        }
    });
    let responses = join_all(creates).await;

    // Each create is answered 201 in the end, repeated with its
    // Idempotency-Key while it was 503 (above a slow machine's capacity).
    let unanswered: Vec<_> = responses
        .iter()
        .filter(|r| r.status != 201)
        .map(|r| (r.status, r.body["error"]["message"].clone()))
        .collect();
    assert!(unanswered.is_empty(), "{unanswered:?}");
    let list = api.list(&tenant, "limit=100").await;
    assert_eq!(list["total"], 30, "the counts are exact at once");
    // The page's index shows new clients only after a moment (the contract).
    index_settled().await;
    let list = api.list(&tenant, "limit=100").await;
    assert_eq!(ids(&list).len(), 30);
    assert_eq!(api.list(&tenant, "status=active").await["total"], 15);
    assert_eq!(api.list(&tenant, "status=inactive").await["total"], 15);
}

#[tokio::test]
async fn each_invalid_list_parameter_is_a_validation_error_naming_it() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("sortBy=email", "sortBy"),
        ("sortBy=Name", "sortBy"),
        ("sortOrder=ascending", "sortOrder"),
        ("status=archived", "status"),
        ("status=active,deleted", "status"),
        ("page=2", "page"),
        ("limit=1&limit=2", "limit"),
    ];

    for (query, parameter) in cases {
        let response = api.get(&tenant, &format!("/api/v1/clients?{query}")).await;
        assert_eq!(
            (response.status, response.error_code()),
            (400, "validation_error"),
            "{query}"
        );
        assert_eq!(response.error_fields(), [parameter], "{query}");
    }
    let long = format!("/api/v1/clients?query={}", "q".repeat(101));
    assert_eq!(api.get(&tenant, &long).await.error_fields(), ["query"]);
}

#[tokio::test]
async fn an_offset_past_the_end_gives_an_empty_page_with_the_total() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    create_tricky_clients(&api, &tenant).await;

    let list = api.list(&tenant, "offset=10").await;
    let searched = api.list(&tenant, "offset=100&query=bob").await;

    assert_eq!(
        (
            list["data"].clone(),
            list["total"].clone(),
            list["offset"].clone()
        ),
        (json!([]), json!(10), json!(10))
    );
    assert_eq!(
        (searched["data"].clone(), searched["total"].clone()),
        (json!([]), json!(3))
    );
}

/// The cost of one list request in a 2,000-client organization, as DynamoDB reported it.
#[tokio::test]
async fn unfiltered_and_status_pages_read_about_limit_items_not_the_organization() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    api.seed(&tenant.org, &sample_clients(2_000)).await;
    let limit = 50;

    for sort_by in [
        SortField::Name,
        SortField::Phone,
        SortField::Status,
        SortField::CreatedAt,
    ] {
        for sort_order in [SortOrder::Asc, SortOrder::Desc] {
            for status in [StatusFilter::ALL, StatusFilter::only(Status::Inactive)] {
                let query = ListQuery {
                    limit,
                    sort_by,
                    sort_order,
                    status,
                    ..ListQuery::default()
                };

                let (page, cost) = api.page(&tenant.org, &query).await;

                assert_eq!(page.clients.len(), limit as usize);
                // the counts item, then `limit` order items and one to peek
                assert!(
                    cost.items_read <= u64::from(limit) + 2,
                    "{query:?}: {:?}",
                    cost
                );
                assert!(cost.calls <= 2, "{query:?}: {:?}", cost);
                // a page of 50 typical clients (name, phone, a short note)
                assert!(cost.read_units <= 6.0, "{query:?}: {:?}", cost);
            }
        }
    }
    let deep = ListQuery {
        limit,
        offset: 1_000,
        ..ListQuery::default()
    };
    let (page, cost) = api.page(&tenant.org, &deep).await;
    assert!(
        cost.items_read <= 1_000 + u64::from(limit) + 2,
        "offset paging is O(offset + limit): {:?}",
        cost
    );
    let mut after = page.next.clone();
    for _ in 0..5 {
        let query = ListQuery {
            limit,
            ..ListQuery::default()
        };
        let (page, cost) = api.page_after(&tenant.org, &query, after.as_ref()).await;
        assert!(
            cost.items_read <= u64::from(limit) + 2,
            "cursor paging is O(limit) at any depth: {:?}",
            cost
        );
        after = page.next;
    }
    let search = ListQuery {
        search: shared::domain::search::SearchTerm::parse("client 0001"),
        ..ListQuery::default()
    };
    let (page, cost) = api.page(&tenant.org, &search).await;
    assert_eq!(page.total, 10);
    // 10 index entries + the 10 candidates, read whole: they are the page
    assert!(
        cost.items_read <= 20 && cost.calls <= 2,
        "search reads what it finds, not the organization: {:?}",
        cost
    );
}

/// Follows `nextCursor` from the first page to the last.
async fn pages_by_cursor(api: &TestApi, tenant: &Tenant, base: &str, limit: u32) -> Vec<String> {
    let mut all = Vec::new();
    let mut page = api.list(tenant, &format!("{base}&limit={limit}")).await;
    loop {
        all.extend(ids(&page));
        match page["nextCursor"].as_str() {
            None => return all,
            Some(cursor) => {
                assert_eq!(
                    ids(&page).len(),
                    limit as usize,
                    "only the last page is short"
                );
                page = api
                    .list(tenant, &format!("{base}&limit={limit}&cursor={cursor}"))
                    .await;
            }
        }
    }
}

#[tokio::test]
async fn cursor_paging_yields_every_client_exactly_once_in_every_order() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    api.seed(&tenant.org, &sample_clients(23)).await;

    for sort_by in SORT_FIELDS {
        for order in ["asc", "desc"] {
            for filter in [
                "",
                "&status=active",
                "&status=inactive",
                "&query=client%200",
                "&query=555&status=active",
            ] {
                let base = format!("sortBy={sort_by}&sortOrder={order}{filter}");
                let whole = ids(&api.list(&tenant, &format!("{base}&limit=100")).await);
                for limit in [1, 4, 23] {
                    assert_eq!(
                        pages_by_cursor(&api, &tenant, &base, limit).await,
                        whole,
                        "{base} limit={limit}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_last_page_has_a_null_next_cursor() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    api.seed(&tenant.org, &sample_clients(4)).await;

    let exact = api.list(&tenant, "limit=4").await;
    let empty = api.list(&tenant, "").await;

    assert_eq!(exact["nextCursor"], Value::Null);
    assert!(api.list(&tenant, "limit=3").await["nextCursor"].is_string());
    assert_eq!(empty["nextCursor"], Value::Null);
}

#[tokio::test]
async fn tampered_foreign_and_mismatched_cursors_are_400() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let other = api.tenant().await;
    api.seed(&tenant.org, &sample_clients(5)).await;
    api.seed(&other.org, &sample_clients(5)).await;
    let cursor = api.list(&tenant, "limit=2").await["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[2] = if tampered[2] == b'x' { b'y' } else { b'x' };
    let tampered = String::from_utf8(tampered).unwrap();

    for (who, query) in [
        (&other, format!("limit=2&cursor={cursor}")),
        (&tenant, format!("limit=2&cursor={tampered}")),
        (&tenant, format!("limit=2&sortBy=name&cursor={cursor}")),
        (&tenant, format!("limit=2&offset=2&cursor={cursor}")),
        (&tenant, "cursor=nonsense".to_owned()),
    ] {
        let response = api.get(who, &format!("/api/v1/clients?{query}")).await;
        assert_eq!(
            (response.status, response.error_fields()),
            (400, vec!["cursor"]),
            "{query}"
        );
    }
}

#[tokio::test]
async fn a_bulk_import_adds_to_the_organizations_existing_clients_and_counts() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    api.create(&tenant, json!({"name": "Already here"})).await;

    api.seed(&tenant.org, &sample_clients(60)).await;

    let (active, inactive) = api.recount(&tenant.org).await;
    assert_eq!(
        (active, inactive),
        (41, 20),
        "every third sample client is inactive"
    );
    assert_eq!(api.list(&tenant, "").await["total"], 61);
    assert_eq!(api.list(&tenant, "status=inactive").await["total"], 20);
}

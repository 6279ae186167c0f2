//! Per-organization rate limits (`shared::http::limiter`), through the
//! handlers and DynamoDB Local: the 429 and its fields, one organization
//! held to its limit across several containers, units as well as requests,
//! a changed limit, a skewed clock, a burst of cold containers, and the
//! limiter's own item throttled, failing or unreachable (the proxy's faults).
//!
//! The bound every test checks (docs/operations.md, "Rate limits"): in one
//! 10-second epoch an organization is granted at most its pool,
//! `rate × 10` tokens, whatever the number of containers; what a
//! container holds is paced to the epoch's end. Each test starts just after
//! an epoch begins ([`next_epoch`]) and floods within it.

use std::time::Duration;

use dynamodb_proxy::Fault;
use integration_tests::limits::{
    containers, flood, limited_org, next_epoch, requests_per_second, set_plan, tally, Flood,
};
use integration_tests::*;
use lambda_http::http::Method;
use serde_json::json;
use shared::domain::plan::{Overrides, PlanName};
use shared::domain::share::EPOCH_SECONDS;
use shared::store::limits::LimitStore;

/// The most one epoch may accept at `rate` requests/s with a burst of `rate`.
fn epoch_bound(rate: u32) -> u64 {
    u64::from(rate) * EPOCH_SECONDS + u64::from(rate)
}

#[tokio::test]
async fn an_organization_over_its_limit_gets_429_rate_limited_with_retry_after_and_the_ratelimit_fields(
) {
    let api = TestApi::with_key_cache(Duration::from_secs(60)).await;
    let tenant = api.tenant().await;
    set_plan(&api, &tenant.org, PlanName::Free, requests_per_second(2)).await;

    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(api.get(&tenant, "/api/v1/clients?limit=1").await);
    }

    let accepted = answers
        .iter()
        .find(|a| a.status == 200)
        .expect("one accepted");
    let refused = answers
        .iter()
        .find(|a| a.status == 429)
        .expect("one refused");
    assert_eq!(refused.error_code(), "rate_limited");
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("requests per second"));
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=EPOCH_SECONDS * 2).contains(&retry_after),
        "{retry_after}"
    );
    for answer in [accepted, refused] {
        let policy = answer.header("ratelimit-policy").expect("RateLimit-Policy");
        assert!(
            policy.starts_with("\"requests\";q=2;w=1, \"read-units\";q=200;w=2"),
            "{policy}"
        );
        let left = answer.header("ratelimit").expect("RateLimit");
        assert!(left.starts_with("\"requests\";r="), "{left}");
    }
    assert!(refused
        .header("ratelimit")
        .unwrap()
        .starts_with("\"requests\";r=0;"));
}

#[tokio::test]
async fn a_refusal_reads_and_writes_nothing_of_the_organizations_data() {
    let (proxy, api) = TestApi::through_counting_proxy().await;
    let tenant = api.tenant().await;
    set_plan(&api, &tenant.org, PlanName::Free, requests_per_second(1)).await;
    // Lease, key look-up and the first answer; then refusals only.
    let mut first = api.get(&tenant, "/api/v1/clients?limit=1").await;
    while first.status != 429 {
        first = api.get(&tenant, "/api/v1/clients?limit=1").await;
    }

    let mut refused = 0;
    for _ in 0..20 {
        proxy.reset_summary();
        let answer = api
            .post(
                &tenant,
                "/api/v1/clients",
                &json!({"name": "Refused Client"}),
            )
            .await;
        if answer.status == 429 {
            refused += 1;
            let sent = proxy.summary().forwarded;
            // Nothing but, now and then, the limiter's own lease.
            assert!(
                sent.keys().all(|operation| operation == "UpdateItem")
                    && sent.values().sum::<u64>() <= 1,
                "a refusal sent {sent:?}"
            );
        }
    }

    assert!(refused >= 15, "{refused} of 20 refused");
}

#[tokio::test]
async fn eight_containers_flooding_one_organization_are_held_to_its_pool_together() {
    let api = TestApi::start().await;
    let (tenant, apps) = limited_org(&api, 20, 8).await;

    let seen: Flood = flood(&apps, &tenant, 1, Duration::from_secs(6)).await;

    assert!(seen.other.is_empty(), "no other answer: {:?}", seen.other);
    assert!(seen.refused > seen.accepted, "{seen:?}");
    assert!(seen.accepted <= epoch_bound(20), "{seen:?}");
    // Paced to the epoch's end: about 6 s of the rate, never all at once.
    assert!(seen.accepted >= 20 * 6 / 2, "{seen:?}");
    assert!(seen.accepted <= 20 * 6 + 20 + 20 * 2, "{seen:?}");
    let leases: u64 = apps
        .iter()
        .map(|app| app.limiter.as_ref().unwrap().lease_calls())
        .sum();
    assert!(
        leases <= 8 * 4,
        "{leases} leases for {} requests",
        seen.accepted + seen.refused
    );
}

#[tokio::test]
async fn an_expensive_request_uses_up_the_read_unit_budget_not_one_request() {
    let api = TestApi::with_key_cache(Duration::from_secs(60)).await;
    let tenant = api.tenant().await;
    api.seed(&tenant.org, &sample_clients(300)).await;
    set_plan(
        &api,
        &tenant.org,
        PlanName::Enterprise,
        Overrides {
            read_units_per_second: Some(2),
            ..Overrides::default()
        },
    )
    .await;

    let mut answers = Vec::new();
    // A one-letter search every sample client matches ("Client 00042").
    for _ in 0..8 {
        answers.push(api.get(&tenant, "/api/v1/clients?query=c&limit=100").await);
    }

    assert_eq!(answers[0].status, 200, "{}", answers[0].body);
    let refused = answers.iter().find(|a| a.status == 429).expect("a refusal");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read capacity units"),
        "{}",
        refused.body
    );
    let left = refused.header("ratelimit").unwrap();
    assert!(left.contains("\"read-units\";r=0;"), "{left}");
}

#[tokio::test]
async fn a_limit_lowered_while_containers_hold_leases_applies_from_the_next_epoch() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let apps = containers(&api, 2, &[]);
    next_epoch(Duration::from_millis(200)).await;
    let before = flood(&apps, &tenant, 1, Duration::from_secs(1)).await;
    assert_eq!(
        before.refused, 0,
        "the local plan refuses nothing: {before:?}"
    );

    set_plan(&api, &tenant.org, PlanName::Free, requests_per_second(2)).await;
    let held = flood(&apps, &tenant, 1, Duration::from_secs(1)).await;
    next_epoch(Duration::from_millis(200)).await;
    let after = flood(&apps, &tenant, 1, Duration::from_secs(3)).await;

    // Within the epoch the old grants run on; from the next one, the new limit.
    assert!(
        held.accepted > epoch_bound(2),
        "grants are kept to their epoch: {held:?}"
    );
    assert!(after.accepted <= epoch_bound(2), "{after:?}");
    assert!(after.refused > 0, "{after:?}");
}

#[tokio::test]
async fn a_container_whose_clock_is_seconds_off_stays_within_a_pool_and_its_slice() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    set_plan(&api, &tenant.org, PlanName::Free, requests_per_second(10)).await;
    // One container 4 s ahead, one 3 s behind, two right.
    let apps = containers(&api, 4, &[4.0, -3.0]);
    next_epoch(Duration::from_millis(200)).await;

    let seen = flood(&apps, &tenant, 1, Duration::from_secs(8)).await;

    assert!(seen.other.is_empty(), "{:?}", seen.other);
    // A skewed container uses its slice of an epoch up to its skew into
    // the next: at most two epochs' pools meet in these 8 seconds.
    assert!(seen.accepted <= 2 * epoch_bound(10), "{seen:?}");
    assert!(seen.accepted >= 10 * 8 / 2, "{seen:?}");
}

#[tokio::test]
async fn a_burst_of_cold_containers_takes_one_lease_each_and_no_more_than_the_pool() {
    let api = TestApi::start().await;
    let (tenant, apps) = limited_org(&api, 5, 32).await;

    let answers = join_all(apps.iter().map(|app| {
        send_to(
            app,
            TestRequest::new(Method::GET, "/api/v1/clients?limit=1").key(&tenant.key),
        )
    }))
    .await;

    let mut seen = Flood::default();
    for answer in &answers {
        tally(&mut seen, answer);
    }
    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert!(seen.accepted >= 1, "{seen:?}");
    assert!(seen.accepted <= epoch_bound(5), "{seen:?}");
    // One lease each, and one call giving back what a first lease, sized
    // by the default plan, took beyond the organization's own slice.
    for app in &apps {
        assert!(app.limiter.as_ref().unwrap().lease_calls() <= 2);
        assert_eq!(app.limiter.as_ref().unwrap().lease_failures(), 0);
    }
    let leased = LimitStore::new(api.table.clone())
        .plan(&tenant.org)
        .await
        .unwrap();
    assert_eq!(leased.overrides.requests_per_second, Some(5));
}

/// The API through a proxy of its own, the limit item's `UpdateItem`s
/// faulted by `fault`, and an organization limited to 10 requests/s.
async fn faulted_limiter(fault: impl FnOnce(&dynamodb_proxy::Proxy)) -> (Flood, u64, u64) {
    let (proxy, api) = TestApi::through_counting_proxy().await;
    let tenant = api.tenant().await;
    set_plan(&api, &tenant.org, PlanName::Free, requests_per_second(10)).await;
    let apps = limits_through(&api, 4);
    let counts = |apps: &[std::sync::Arc<shared::App>]| {
        let limiters = apps.iter().map(|app| app.limiter.as_ref().unwrap());
        limiters.fold((0, 0), |(c, f), l| {
            (c + l.lease_calls(), f + l.lease_failures())
        })
    };
    // The containers lease once and learn the organization's limits...
    flood(&apps, &tenant, 1, Duration::from_millis(300)).await;
    fault(&proxy);
    let (calls_before, failures_before) = counts(&apps);
    // ...then the limit item fails them from the next epoch on.
    next_epoch(Duration::from_millis(200)).await;

    let seen = flood(&apps, &tenant, 1, Duration::from_secs(3)).await;

    let (calls, failures) = counts(&apps);
    (seen, calls - calls_before, failures - failures_before)
}

/// `count` containers over the test API's (proxied) client.
fn limits_through(api: &TestApi, count: usize) -> Vec<std::sync::Arc<shared::App>> {
    containers(api, count, &[])
}

/// Each container falls back to at most the cold slice (1/8 of the pool)
/// of the epoch under the limits it last leased: with 4 containers, half
/// the pool at most.
const FALLBACK_BOUND: u64 = 4 * (10 * EPOCH_SECONDS / 8 + 1);

#[tokio::test]
async fn an_unreachable_limit_item_fails_open_by_a_bounded_slice_and_never_503s() {
    let (seen, calls, failures) = faulted_limiter(|proxy| {
        proxy.inject(Fault::DropRequest {
            operation: "UpdateItem".into(),
            count: 1_000,
        })
    })
    .await;

    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert!(
        seen.accepted >= 4,
        "each container admits on its fallback: {seen:?}"
    );
    assert!(seen.accepted <= FALLBACK_BOUND, "{seen:?}");
    assert!(failures >= 4 && failures <= calls, "{failures} of {calls}");
    // No retry storm: while it fails, a container tries its lease again at
    // most once a second (3 s of flood: at most 4 tries each).
    assert!(calls <= 4 * 4, "{calls}");
}

#[tokio::test]
async fn a_failing_limit_item_fails_open_by_a_bounded_slice() {
    let (seen, _calls, failures) = faulted_limiter(|proxy| {
        proxy.inject(Fault::InternalServerError {
            operation: "UpdateItem".into(),
            count: 1_000,
            forwarded: false,
        })
    })
    .await;

    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert!(
        seen.accepted >= 4 && seen.accepted <= FALLBACK_BOUND,
        "{seen:?}"
    );
    assert!(failures >= 4, "{failures}");
}

#[tokio::test]
async fn a_throttled_limit_item_fails_open_by_a_bounded_slice() {
    let (seen, _calls, failures) = faulted_limiter(|proxy| {
        let mut config = proxy.config();
        config.throughput = Some(dynamodb_proxy::Limits {
            write_units_per_second: 0.001,
            read_units_per_second: 3000.0,
            burst_seconds: 1.0,
        });
        proxy.set_config(config);
    })
    .await;

    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert!(
        seen.accepted >= 4 && seen.accepted <= FALLBACK_BOUND,
        "{seen:?}"
    );
    assert!(failures >= 4, "{failures}");
}

#[tokio::test]
async fn racing_leases_of_sixteen_containers_never_grant_more_than_the_pool() {
    let api = TestApi::start().await;
    let (tenant, apps) = limited_org(&api, 8, 16).await;

    // Every container at once, twice: the second round tops up.
    let mut seen = Flood::default();
    for _ in 0..2 {
        let answers = join_all(apps.iter().map(|app| {
            send_to(
                app,
                TestRequest::new(Method::GET, "/api/v1/clients?limit=1").key(&tenant.key),
            )
        }))
        .await;
        for answer in &answers {
            tally(&mut seen, answer);
        }
    }

    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert!(seen.accepted <= epoch_bound(8), "{seen:?}");
    assert!(seen.accepted >= 1, "{seen:?}");
}

#[tokio::test]
async fn the_local_server_enforces_the_limits_and_writes_the_fields_over_http() {
    let api = TestApi::with_key_cache(Duration::from_secs(60)).await;
    let tenant = api.tenant().await;
    let server = api.serve_http().await;
    let request = TestRequest::new(Method::GET, "/api/v1/clients?limit=1").key(&tenant.key);

    let generous = server.request(&request).await;
    set_plan(&api, &tenant.org, PlanName::Free, requests_per_second(1)).await;
    next_epoch(Duration::from_millis(100)).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(server.request(&request).await);
    }

    assert_eq!(generous.status, 200);
    assert!(generous
        .header("ratelimit-policy")
        .unwrap()
        .starts_with("\"requests\";q=4000;w=2"));
    let refused = statuses.iter().find(|a| a.status == 429).expect("a 429");
    assert!(refused.header("retry-after").is_some());
    assert!(refused.header("ratelimit").is_some());
}

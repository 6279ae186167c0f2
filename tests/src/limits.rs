//! Helpers of the rate limit tests: an organization's plan set as an
//! operator sets it, several containers (each an [`App`] of its own, as
//! Lambda runs them) of one API, and a flood of `GET`s spread over them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::http::Method;
use shared::domain::model::OrgId;
use shared::domain::plan::{OrgPlan, Overrides, PlanName};
use shared::domain::share::EPOCH_SECONDS;
use shared::http::limiter::Clock;
use shared::store::limits::LimitStore;
use shared::App;

use crate::api::{keys_cached_for, send_to, Tenant, TestApi, TestRequest, TestResponse};

/// Sets `org`'s plan and overrides, as `clients-admin set-plan` does.
pub async fn set_plan(api: &TestApi, org: &OrgId, plan: PlanName, overrides: Overrides) -> OrgPlan {
    LimitStore::new(api.table.clone())
        .set_plan(org, Some(plan), &overrides, true)
        .await
        .expect("set the plan")
}

/// A tight limit: `rate` requests/s with a burst of `rate`, and the free
/// plan's units.
pub fn requests_per_second(rate: u32) -> Overrides {
    Overrides {
        requests_per_second: Some(rate),
        burst: Some(rate),
        ..Overrides::default()
    }
}

/// `count` containers of the API, each with its own limiter, over the
/// test API's DynamoDB client, with key look-ups cached (so that a
/// refusal is made without any DynamoDB call), their clocks skewed by
/// `skews` (one per container; missing ones are not skewed).
pub fn containers(api: &TestApi, count: usize, skews: &[f64]) -> Vec<Arc<App>> {
    let config = keys_cached_for(Duration::from_secs(60));
    (0..count)
        .map(|i| {
            let clock = Clock {
                skew_seconds: skews.get(i).copied().unwrap_or(0.0),
            };
            Arc::new(App::with_clock(api.table.client.clone(), &config, clock))
        })
        .collect()
}

/// A new organization of `api` held to `rate` requests/s (the free plan,
/// [`requests_per_second`]) and `count` containers for it; returns 0.2 s
/// into the next epoch, so that a test starts with fresh grants.
pub async fn limited_org(api: &TestApi, rate: u32, count: usize) -> (Tenant, Vec<Arc<App>>) {
    let tenant = api.tenant().await;
    set_plan(api, &tenant.org, PlanName::Free, requests_per_second(rate)).await;
    let apps = containers(api, count, &[]);
    next_epoch(Duration::from_millis(200)).await;
    (tenant, apps)
}

/// What a flood saw.
#[derive(Debug, Default)]
pub struct Flood {
    /// 200 answers.
    pub accepted: u64,
    /// 429 answers, each checked to carry `Retry-After` and `rate_limited`.
    pub refused: u64,
    /// Any other answer, by status.
    pub other: Vec<u16>,
    /// How long it ran.
    pub elapsed: Duration,
}

/// `GET /clients?limit=1` from every container in turn, `per_container`
/// unpaced requests concurrently on each, for `length`.
pub async fn flood(
    apps: &[Arc<App>],
    tenant: &Tenant,
    per_container: usize,
    length: Duration,
) -> Flood {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for app in apps {
        for _ in 0..per_container {
            let app = Arc::clone(app);
            let key = tenant.key.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = Flood::default();
                while started.elapsed() < length {
                    let response = send_to(
                        &app,
                        TestRequest::new(Method::GET, "/api/v1/clients?limit=1").key(&key),
                    )
                    .await;
                    tally(&mut seen, &response);
                    // A refusal never waits on anything: let the other
                    // containers (and the leases' tasks) run.
                    tokio::task::yield_now().await;
                }
                seen
            }));
        }
    }
    let mut total = Flood::default();
    for task in tasks {
        let seen = task.await.expect("a flood task");
        total.accepted += seen.accepted;
        total.refused += seen.refused;
        total.other.extend(seen.other);
    }
    total.elapsed = started.elapsed();
    total
}

/// Counts one answer, checking a refusal's shape.
pub fn tally(seen: &mut Flood, response: &TestResponse) {
    match response.status {
        200 => seen.accepted += 1,
        429 => {
            assert_eq!(response.error_code(), "rate_limited", "{}", response.body);
            let retry_after: u64 = response
                .header("retry-after")
                .and_then(|v| v.parse().ok())
                .expect("a 429 has a whole-seconds Retry-After");
            assert!(
                (1..=EPOCH_SECONDS * 4).contains(&retry_after),
                "Retry-After {retry_after}"
            );
            seen.refused += 1;
        }
        other => seen.other.push(other),
    }
}

/// Sleeps until `margin` after the start of the next epoch, so that a test
/// starts with fresh grants.
pub async fn next_epoch(margin: Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let epoch = EPOCH_SECONDS as f64;
    let wait = epoch - now % epoch + margin.as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
}

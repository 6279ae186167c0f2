//! Section 5, busy tenant: many concurrent creators into ONE organization
//! against the same load spread over as many organizations, through the
//! DynamoDB-faithful proxy (`dynamodb-proxy`: transaction conflicts,
//! per-partition throughput and in-region latency on), for the unsharded
//! counts (`COUNT_SHARDS=1`, the design before sharding: every create of an
//! organization also updates its one counts item) and the sharded ones
//! (`shared::store::counts::DEFAULT_SHARDS`).
//!
//! Each row: creates/s, the answers that were not 201 (409s, 5xx), the
//! conflicts the proxy answered per create, p50/p99 latency, and whether the
//! organizations' totals equal a recount afterwards. The goal: with the
//! sharded counts, one organization takes ≥ 0.9× the creates/s of the spread
//! load, with no 409 and no 5xx.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dynamodb_proxy::{Proxy, ProxyConfig};
use lambda_http::http::Method;
use serde_json::json;
use shared::domain::model::OrgId;
use shared::function::Config;
use shared::store::admin::keys::KeyAdmin;
use shared::store::counts::{self, DEFAULT_SHARDS};
use shared::store::Table;
use shared::App;

use crate::format::ms;
use crate::load::{run_load, Load, Op};
use crate::request::{prepare, send, Prepared};
use crate::settings::{say, Settings};

/// Concurrent creators (`BENCH_BUSY_WRITERS`, default 64).
fn writers() -> usize {
    std::env::var("BENCH_BUSY_WRITERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(64)
}

/// One measured run.
pub struct BusyRow {
    shards: u16,
    organizations: usize,
    load: Load,
    conflicts: u64,
    throttles: u64,
    statuses: Arc<Statuses>,
    exact: bool,
}

/// The answers of a run that were not 201, by class.
#[derive(Default)]
struct Statuses {
    conflict: AtomicU64,
    server_error: AtomicU64,
    other: AtomicU64,
}

/// Runs the four rows: {1, DEFAULT_SHARDS} shards × {one, `writers`} organizations.
pub async fn busy_section(settings: &Settings) -> Vec<BusyRow> {
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("DynamoDB Local");
    // Every part on: conflicts, throughput, index lag, server errors, latency.
    let proxy = Proxy::start(ProxyConfig::faithful(upstream))
        .await
        .expect("start the proxy");
    let client = shared::store::connect_to(Some(&proxy.endpoint())).await;
    let table = Table::new(client.clone(), &settings.table);
    let mut rows = Vec::new();
    for shards in [1, DEFAULT_SHARDS] {
        for organizations in [1, writers()] {
            say(format!(
                "busy: {shards} shard(s), {organizations} organization(s)"
            ));
            rows.push(measure(settings, &proxy, &table, shards, organizations).await);
        }
    }
    rows
}

async fn measure(
    settings: &Settings,
    proxy: &Proxy,
    table: &Table,
    shards: u16,
    organizations: usize,
) -> BusyRow {
    let orgs = tenants(table, organizations).await;
    let config = Config {
        count_shards: shards,
        ..Config::for_table(&settings.table)
    };
    // One `App` per writer, as each concurrent Lambda container has its own.
    let apps: Arc<Vec<App>> = Arc::new(
        (0..writers())
            .map(|_| App::new(table.client.clone(), &config))
            .collect(),
    );
    let body = json!({"name": "Busy Creator", "phone": "+1 555-0199"});
    let requests: Arc<Vec<Prepared>> = Arc::new(
        orgs.iter()
            .map(|(_, key)| prepare(Method::POST, "/api/v1/clients", key, Some(&body)))
            .collect(),
    );
    let statuses = Arc::new(Statuses::default());
    proxy.reset_summary();
    let duration = Duration::from_secs_f64(settings.seconds);
    let load = run_load(writers(), duration, create_op(&apps, requests, &statuses)).await;
    let summary = proxy.summary();
    BusyRow {
        shards,
        organizations,
        load,
        conflicts: summary.transactions_cancelled + summary.plain_conflicts,
        throttles: summary.throttles_total(),
        statuses,
        exact: totals_exact(table, &orgs).await,
    }
}

/// `count` fresh organizations, each with a key.
async fn tenants(table: &Table, count: usize) -> Vec<(OrgId, String)> {
    let keys = KeyAdmin::new(table.clone());
    let mut orgs = Vec::new();
    for _ in 0..count {
        let org: OrgId = format!("busy-{}", uuid::Uuid::now_v7().simple())
            .parse()
            .expect("an org id");
        let (key, _) = keys.create_key(&org, "busy").await.expect("an API key");
        orgs.push((org, key.key));
    }
    orgs
}

/// Writer `n % writers` creates with its own `App` into its organization
/// (its own, when there are as many as writers), tallying the answers that
/// are not 201.
fn create_op(apps: &Arc<Vec<App>>, requests: Arc<Vec<Prepared>>, statuses: &Arc<Statuses>) -> Op {
    let (apps, statuses) = (Arc::clone(apps), Arc::clone(statuses));
    Arc::new(move |n| {
        let (apps, requests, statuses) = (apps.clone(), requests.clone(), statuses.clone());
        Box::pin(async move {
            let app = &apps[n as usize % apps.len()];
            let status = send(app, &requests[n as usize % requests.len()]).await.0;
            let tally = match status {
                201 => return true,
                409 => &statuses.conflict,
                500..=599 => &statuses.server_error,
                _ => &statuses.other,
            };
            tally.fetch_add(1, Ordering::Relaxed);
            false
        })
    })
}

/// Whether every organization's counts equal a recount of its clients.
async fn totals_exact(table: &Table, orgs: &[(OrgId, String)]) -> bool {
    for (org, _) in orgs {
        let (kept, counted) = (
            counts::read(table, org).await,
            counts::recount(table, org).await,
        );
        match (kept, counted) {
            (Ok(kept), Ok(counted)) if kept == counted => {}
            _ => return false,
        }
    }
    true
}

/// The section's table and the goals it misses.
pub fn busy_table(rows: &mut [BusyRow]) -> (String, Vec<String>) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Busy tenant: {} concurrent creators through the DynamoDB-faithful proxy (conflicts, throughput, index lag, server errors, latency on)",
        writers()
    );
    let _ = writeln!(
        out,
        "{:>6}  {:>5}  {:>10}  {:>9}  {:>5}  {:>5}  {:>10}  {:>9}  {:>8}  {:>8}  totals",
        "shards",
        "orgs",
        "201s/s",
        "vs spread",
        "409",
        "5xx",
        "conflicts",
        "throttles",
        "p50",
        "p99",
    );
    let mut misses = Vec::new();
    for index in 0..rows.len() {
        let spread_rate = rows
            .iter()
            .find(|r| r.shards == rows[index].shards && r.organizations > 1)
            .map_or(f64::NAN, |r| r.load.success_rate());
        let row = &mut rows[index];
        let rate = row.load.success_rate();
        let (conflict, server) = (
            row.statuses.conflict.load(Ordering::Relaxed),
            row.statuses.server_error.load(Ordering::Relaxed),
        );
        let creates = row.load.count().max(1) as f64;
        let _ = writeln!(
            out,
            "{:>6}  {:>5}  {:>10.0}  {:>8.2}×  {:>5}  {:>5}  {:>10}  {:>9}  {:>8}  {:>8}  {}",
            row.shards,
            row.organizations,
            rate,
            rate / spread_rate,
            conflict,
            server,
            format!("{:.2}/create", row.conflicts as f64 / creates),
            row.throttles,
            ms(row.load.percentile(0.5)),
            ms(row.load.percentile(0.99)),
            if row.exact { "exact" } else { "WRONG" }
        );
        let sharded_single = row.shards > 1 && row.organizations == 1;
        if sharded_single && (conflict > 0 || server > 0 || !row.exact || rate < 0.9 * spread_rate)
        {
            misses.push(format!(
                "busy tenant: one organization at {rate:.0} creates/s ({:.2}× the spread load), {conflict} × 409, {server} × 5xx, totals {}",
                rate / spread_rate,
                if row.exact { "exact" } else { "wrong" }
            ));
        }
    }
    (out, misses)
}

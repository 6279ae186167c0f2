//! Section `limits`, per-organization rate limits through the handlers
//! (`shared::http::limiter`), each figure beside its baseline in one run:
//!
//! - **Fair share**: 8 `App`s (8 containers, each with its own limiter,
//!   one request at a time each) flood ONE organization at 10× its plan's
//!   request rate (`standard`, 100/s): the accepted rate against the
//!   limit, and every excess answer a 429 `rate_limited` with `Retry-After`.
//! - **Neighbour**: a second organization's `GET` every 20 ms through a
//!   container of its own, alone and during the flood: errors, p50, p99.
//! - **Overhead**: the limiter's DynamoDB calls per accepted request
//!   (amortized over the flood) and the p50 of a `GET` through one
//!   container with the limiter on beside the same with it off
//!   (`RATE_LIMITS=off`); the p50 of a refusal.
//! - **Cost-weighted**: one-letter searches over an organization of
//!   `BENCH_LIMITS_CLIENTS` (2,000) clients whose plan allows 300 read
//!   units/s: the read units DynamoDB reported per second (a transparent
//!   proxy counts them), with the limiter and without.
//!
//! Requests go through the observer as in Lambda (`Observer::serve`), which
//! charges each request's capacity units to the limiter and writes the
//! `RateLimit` fields. `BENCH_LIMITS_SECONDS` (20) sets the flood's length.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynamodb_proxy::{Proxy, ProxyConfig};
use lambda_http::http::Method;
use serde_json::{json, Value};
use shared::domain::model::OrgId;
use shared::domain::plan::{Overrides, PlanName};
use shared::function::Config;
use shared::store::admin::import::{import_clients, sample_clients};
use shared::store::admin::keys::KeyAdmin;
use shared::store::limits::LimitStore;
use shared::store::Table;
use shared::App;

use crate::format::{ms, thousands};
use crate::request::{prepare, Prepared};
use crate::settings::{env_or, say, Settings};

/// The flooded organization's plan rate (requests/s), the flood's multiple of it.
const LIMIT: u32 = 100;
const FLOOD_FACTOR: u32 = 10;
const CONTAINERS: usize = 8;
/// The neighbour's pace.
const NEIGHBOUR_EVERY: Duration = Duration::from_millis(20);
/// The read-unit budget of the searching organization.
const SEARCH_READ_UNITS: u32 = 300;

/// One answer as the section sees it.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    has_fields: bool,
    latency: Duration,
}

/// Serves `request` through `app` as the Lambda wiring does (observed).
async fn serve(app: &App, request: &Prepared) -> Answer {
    let lambda_request =
        lambda_http::request::from_str(&request.event).expect("a valid gateway event");
    let started = Instant::now();
    let function = request.function;
    let response = app
        .observer
        .serve(lambda_request, |r| local_api::invoke(app, function, r))
        .await;
    let latency = started.elapsed();
    let headers = response.headers();
    Answer {
        status: response.status().as_u16(),
        retry_after: headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
        has_fields: headers.contains_key("ratelimit") && headers.contains_key("ratelimit-policy"),
        latency,
    }
}

fn percentile(values: &mut [Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// Apps over `client`: the functions' configuration with keys cached, the
/// limiter on or off, organizations without a plan on `standard`.
fn apps(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    count: usize,
    limits: bool,
) -> Vec<Arc<App>> {
    let config = Config {
        rate_limits: limits,
        default_plan: PlanName::Standard,
        ..Config::for_table(table)
    };
    (0..count)
        .map(|_| Arc::new(App::new(client.clone(), &config)))
        .collect()
}

/// An organization with a key and a plan; the key.
async fn tenant(
    table: &Table,
    name: &str,
    plan: PlanName,
    overrides: Overrides,
) -> (OrgId, String) {
    let org: OrgId = format!("bench-limits-{name}-{}", uuid::Uuid::now_v7().simple())
        .parse()
        .expect("an organization id");
    let (key, _) = KeyAdmin::new(table.clone())
        .create_key(&org, "bench limits")
        .await
        .expect("create a key");
    LimitStore::new(table.clone())
        .set_plan(&org, Some(plan), &overrides, true)
        .await
        .expect("set the plan");
    (org, key.key)
}

/// Creates one client and answers its `GET`.
async fn one_client(app: &App, key: &str) -> Prepared {
    let create = prepare(
        Method::POST,
        "/api/v1/clients",
        key,
        Some(&json!({"name": "Neighbour Client"})),
    );
    let lambda_request = lambda_http::request::from_str(&create.event).unwrap();
    let response = local_api::invoke(app, create.function, lambda_request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let id = body["data"]["id"]
        .as_str()
        .expect("a created client")
        .to_owned();
    prepare(Method::GET, &format!("/api/v1/clients/{id}"), key, None)
}

/// Sends `request` every `every` through `app` for `length`, open loop.
async fn paced(app: Arc<App>, request: Prepared, every: Duration, length: Duration) -> Vec<Answer> {
    let started = Instant::now();
    let mut answers = Vec::new();
    let mut next = started;
    while started.elapsed() < length {
        answers.push(serve(&app, &request).await);
        next += every;
        let now = Instant::now();
        if next > now {
            tokio::time::sleep(next - now).await;
        } else if now - next > every * 10 {
            next = now; // fell far behind: do not burst to catch up
        }
    }
    answers
}

#[derive(Default)]
struct Latencies {
    errors: usize,
    count: usize,
    p50: Duration,
    p99: Duration,
}

fn latencies(answers: &[Answer]) -> Latencies {
    let mut ok: Vec<Duration> = answers
        .iter()
        .filter(|a| a.status == 200)
        .map(|a| a.latency)
        .collect();
    Latencies {
        errors: answers.iter().filter(|a| a.status != 200).count(),
        count: answers.len(),
        p50: percentile(&mut ok, 0.5),
        p99: percentile(&mut ok, 0.99),
    }
}

/// The section's table and the goals it misses.
pub async fn limits_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
) -> (String, Vec<String>) {
    let table = Table::new(base.clone(), &settings.table);
    let seconds: f64 = env_or("BENCH_LIMITS_SECONDS", 20.0);
    let length = Duration::from_secs_f64(seconds);
    let mut misses = Vec::new();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Rate limits: {CONTAINERS} containers flood one organization (plan standard, {LIMIT} requests/s, burst {}) at {}× for {seconds:.0} s",
        PlanName::Standard.limits().burst,
        FLOOD_FACTOR
    );

    // Organizations.
    let (_, flooded_key) =
        tenant(&table, "flooded", PlanName::Standard, Overrides::default()).await;
    let (_, neighbour_key) = tenant(
        &table,
        "neighbour",
        PlanName::Standard,
        Overrides::default(),
    )
    .await;
    let flood_apps = apps(base, &settings.table, CONTAINERS, true);
    let neighbour_app = apps(base, &settings.table, 1, true).remove(0);
    let flooded_get = one_client(&flood_apps[0], &flooded_key).await;
    let neighbour_get = one_client(&neighbour_app, &neighbour_key).await;

    // Neighbour alone.
    say("limits: the neighbour alone");
    let alone = paced(
        Arc::clone(&neighbour_app),
        neighbour_get.clone(),
        NEIGHBOUR_EVERY,
        Duration::from_secs(10),
    )
    .await;
    let alone = latencies(&alone);

    // The flood, with the neighbour beside it.
    say("limits: the flood");
    let calls_before: u64 = flood_apps
        .iter()
        .map(|a| a.limiter.as_ref().unwrap().lease_calls())
        .sum();
    let every = Duration::from_secs_f64(CONTAINERS as f64 / f64::from(LIMIT * FLOOD_FACTOR));
    let flooding: Vec<_> = flood_apps
        .iter()
        .map(|app| tokio::spawn(paced(Arc::clone(app), flooded_get.clone(), every, length)))
        .collect();
    let during = tokio::spawn(paced(
        Arc::clone(&neighbour_app),
        neighbour_get.clone(),
        NEIGHBOUR_EVERY,
        length,
    ));
    let mut flood = Vec::new();
    for task in flooding {
        flood.extend(task.await.expect("a flood task"));
    }
    let during = latencies(&during.await.expect("the neighbour"));
    let calls: u64 = flood_apps
        .iter()
        .map(|a| a.limiter.as_ref().unwrap().lease_calls())
        .sum::<u64>()
        - calls_before;
    let accepted = flood.iter().filter(|a| a.status == 200).count();
    let refused: Vec<&Answer> = flood.iter().filter(|a| a.status == 429).collect();
    let other = flood.len() - accepted - refused.len();
    let well_formed = refused
        .iter()
        .filter(|a| a.retry_after.is_some_and(|s| s >= 1) && a.has_fields)
        .count();
    let fields_on_accepted = flood
        .iter()
        .filter(|a| a.status == 200 && a.has_fields)
        .count();
    let accepted_rate = accepted as f64 / seconds;
    let offered_rate = flood.len() as f64 / seconds;
    let deviation = accepted_rate / f64::from(LIMIT) - 1.0;
    let mut refusal_latency: Vec<Duration> = refused.iter().map(|a| a.latency).collect();
    let refusal_p50 = percentile(&mut refusal_latency, 0.5);
    let per_accepted = calls as f64 / accepted.max(1) as f64;

    let _ = writeln!(
        out,
        "  flood: offered {offered_rate:.0}/s, accepted {accepted_rate:.1}/s ({:+.1} % of {LIMIT}/s), {} × 429 ({well_formed} with Retry-After and the RateLimit fields), {other} other; RateLimit fields on {fields_on_accepted} of {accepted} accepted",
        deviation * 100.0,
        thousands(refused.len() as u64)
    );
    let _ = writeln!(
        out,
        "  limiter: {calls} DynamoDB calls for {accepted} accepted requests = {per_accepted:.4} per accepted request (goal ≤ 0.02); a refusal's p50 {}",
        ms(refusal_p50)
    );
    if deviation.abs() > 0.10 {
        misses.push(format!(
            "limits: accepted {accepted_rate:.1}/s is not within ±10 % of {LIMIT}/s"
        ));
    }
    if well_formed != refused.len() || other != 0 {
        misses.push(format!(
            "limits: {} of {} refusals lack Retry-After or the fields, {other} other answers",
            refused.len() - well_formed,
            refused.len()
        ));
    }
    if per_accepted > 0.02 {
        misses.push(format!(
            "limits: {per_accepted:.4} limiter calls per accepted request > 0.02"
        ));
    }
    let _ = writeln!(
        out,
        "  neighbour (GET every 20 ms): alone {} requests, {} errors, p50 {}, p99 {}; during the flood {} requests, {} errors, p50 {}, p99 {} ({:.2}×)",
        alone.count,
        alone.errors,
        ms(alone.p50),
        ms(alone.p99),
        during.count,
        during.errors,
        ms(during.p50),
        ms(during.p99),
        during.p99.as_secs_f64() / alone.p99.as_secs_f64().max(1e-9)
    );
    if during.errors > 0 || during.p99 > alone.p99 * 2 {
        misses.push(format!(
            "limits: the neighbour had {} errors, p99 {} vs {} alone (goal: 0, within 2×)",
            during.errors,
            ms(during.p99),
            ms(alone.p99)
        ));
    }

    // Overhead: one container, serial GETs, limiter on and off (the local
    // plan: nothing is refused), alternating rounds.
    say("limits: overhead");
    let (_, overhead_key) = tenant(&table, "overhead", PlanName::Local, Overrides::default()).await;
    let on = apps(base, &settings.table, 1, true).remove(0);
    let off = apps(base, &settings.table, 1, false).remove(0);
    let overhead_get = one_client(&on, &overhead_key).await;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        for (app, into) in [(&on, &mut with), (&off, &mut without)] {
            for _ in 0..500 {
                let answer = serve(app, &overhead_get).await;
                assert_eq!(answer.status, 200, "overhead GET");
                into.push(answer.latency);
            }
        }
    }
    let (p50_on, p50_off) = (percentile(&mut with, 0.5), percentile(&mut without, 0.5));
    let added = p50_on.as_secs_f64() - p50_off.as_secs_f64();
    let _ = writeln!(
        out,
        "  overhead: GET p50 {} with the limiter, {} without: {:+.3} ms (goal ≤ 0.2 ms); {} leases for {} requests",
        ms(p50_on),
        ms(p50_off),
        added * 1e3,
        on.limiter.as_ref().unwrap().lease_calls(),
        with.len()
    );
    if added > 0.0002 {
        misses.push(format!(
            "limits: the limiter adds {:.3} ms to a GET's p50",
            added * 1e3
        ));
    }

    // Cost-weighted: one-letter searches, their read units counted by a proxy.
    let clients: usize = env_or("BENCH_LIMITS_CLIENTS", 2000);
    say(format!(
        "limits: seeding {clients} clients for the searches"
    ));
    let (search_org, search_key) = tenant(
        &table,
        "search",
        PlanName::Standard,
        Overrides {
            read_units_per_second: Some(SEARCH_READ_UNITS),
            ..Overrides::default()
        },
    )
    .await;
    import_clients(&table, &search_org, &sample_clients(clients), 4)
        .await
        .expect("seed the searched organization");
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("DynamoDB Local");
    let proxy = Proxy::start(ProxyConfig::transparent(endpoint))
        .await
        .expect("a counting proxy");
    let proxied = shared::store::connect_to(Some(&proxy.endpoint())).await;
    // Every sample client is "Client 0…": `c` matches them all.
    let search = prepare(
        Method::GET,
        "/api/v1/clients?query=c&limit=100",
        &search_key,
        None,
    );
    let search_for = Duration::from_secs(12);
    for (label, limited) in [("with the limiter", true), ("without", false)] {
        let searchers = apps(&proxied, &settings.table, 2, limited);
        proxy.reset_summary();
        let started = Instant::now();
        let tasks: Vec<_> = searchers
            .iter()
            .map(|app| {
                let (app, search) = (Arc::clone(app), search.clone());
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    while started.elapsed() < search_for {
                        answers.push(serve(&app, &search).await);
                        tokio::task::yield_now().await;
                    }
                    answers
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.extend(task.await.expect("a searcher"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        let summary = proxy.summary();
        let done = answers.iter().filter(|a| a.status == 200).count();
        let refused = answers.iter().filter(|a| a.status == 429).count();
        let units_per_second = summary.read_units / elapsed;
        let _ = writeln!(
            out,
            "  one-letter searches over {} clients, {label}: {done} answered ({:.1}/s), {refused} × 429; {:.0} read units/s (budget {SEARCH_READ_UNITS}/s; request limit {LIMIT}/s)",
            thousands(clients as u64),
            done as f64 / elapsed,
            units_per_second
        );
        // The budget per 10 s epoch, plus one search's own debt at the end.
        let per_search = summary.read_units / done.max(1) as f64;
        if limited
            && units_per_second > f64::from(SEARCH_READ_UNITS) * 1.1 + per_search / elapsed * 2.0
        {
            misses.push(format!(
                "limits: searches consumed {units_per_second:.0} read units/s over a {SEARCH_READ_UNITS}/s budget"
            ));
        }
    }
    (out, misses)
}

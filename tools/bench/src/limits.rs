//! Section `limits`, per-organization rate limits through the handlers
//! (`shared::http::limiter`), each figure beside its baseline in one run:
//!
//! - **Fair share**: 8 processes (`bench limits-container`, [`container`]),
//!   each with an `App` of its own (a container: its own limiter and
//!   DynamoDB client, one request at a time), flood ONE organization at
//!   10× its plan's request rate (`standard`, 100/s): the accepted rate
//!   against the limit, and every excess answer a 429 `rate_limited` with
//!   `Retry-After` and the `RateLimit` fields.
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
//! `RateLimit` fields. `BENCH_LIMITS_SECONDS` (40) sets the length of the
//! flood and of each search run: a limiter's leases and its debts are
//! amortized over epochs of 10 s, so a run of a few epochs shows the rate
//! a flood gets, not where its first and last epochs fall.

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

/// Creates one client and answers its `GET` and its URI.
async fn one_client(app: &App, key: &str) -> (Prepared, String) {
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
    let uri = format!("/api/v1/clients/{id}");
    (prepare(Method::GET, &uri, key, None), uri)
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

/// What the flood's containers answered, summed over their processes.
#[derive(Default)]
struct Tally {
    accepted: u64,
    refused: u64,
    /// Refusals with `Retry-After` (≥ 1 s) and the `RateLimit` fields.
    well_formed: u64,
    /// Answers neither 200 nor 429.
    other: u64,
    fields_on_accepted: u64,
    /// The container's limiter's DynamoDB calls, its first probe included.
    lease_calls: u64,
    refusal_latencies: Vec<Duration>,
}

impl Tally {
    fn of(answers: &[Answer], lease_calls: u64) -> Self {
        let count =
            |keep: &dyn Fn(&Answer) -> bool| answers.iter().filter(|a| keep(a)).count() as u64;
        Self {
            accepted: count(&|a| a.status == 200),
            refused: count(&|a| a.status == 429),
            well_formed: count(&|a| {
                a.status == 429 && a.retry_after.is_some_and(|s| s >= 1) && a.has_fields
            }),
            other: count(&|a| !matches!(a.status, 200 | 429)),
            fields_on_accepted: count(&|a| a.status == 200 && a.has_fields),
            lease_calls,
            refusal_latencies: answers
                .iter()
                .filter(|a| a.status == 429)
                .map(|a| a.latency)
                .collect(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "accepted": self.accepted,
            "refused": self.refused,
            "well_formed": self.well_formed,
            "other": self.other,
            "fields_on_accepted": self.fields_on_accepted,
            "lease_calls": self.lease_calls,
            "refusal_latencies_us": self.refusal_latencies.iter().map(|d| d.as_micros() as u64).collect::<Vec<_>>(),
        })
    }

    fn add_json(&mut self, line: &Value) {
        let n = |name: &str| {
            line[name]
                .as_u64()
                .unwrap_or_else(|| panic!("{name} in {line}"))
        };
        self.accepted += n("accepted");
        self.refused += n("refused");
        self.well_formed += n("well_formed");
        self.other += n("other");
        self.fields_on_accepted += n("fields_on_accepted");
        self.lease_calls += n("lease_calls");
        self.refusal_latencies.extend(
            line["refusal_latencies_us"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
                .map(Duration::from_micros),
        );
    }
}

/// The subcommand of one flooding container.
pub const CONTAINER_COMMAND: &str = "limits-container";

/// `bench limits-container <key> <uri> <every µs> <seconds> <start, Unix
/// ms>`: one container of the flood in a process of its own, as Lambda
/// runs each container: an `App` with its own limiter and DynamoDB client
/// (`AWS_ENDPOINT_URL_DYNAMODB`, `BENCH_TABLE`), which from the start time
/// on sends a `GET` of `uri` every `every` for `seconds`, one at a time,
/// and prints its [`Tally`] as one JSON line.
pub fn container() {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let [key, uri, every_us, seconds, start_ms] = args.as_slice() else {
        panic!(
            "usage: bench {CONTAINER_COMMAND} <key> <uri> <every µs> <seconds> <start, Unix ms>"
        );
    };
    let number = |text: &str| -> u64 {
        text.parse()
            .unwrap_or_else(|_| panic!("not a number: {text}"))
    };
    let every = Duration::from_micros(number(every_us));
    let length = Duration::from_secs(number(seconds));
    let start_ms = number(start_ms);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let settings = Settings::from_env();
        let client = shared::store::connect().await;
        let app = apps(&client, &settings.table, 1, true).remove(0);
        let request = prepare(Method::GET, uri, key, None);
        tokio::time::sleep(Duration::from_millis(start_ms.saturating_sub(unix_ms()))).await;
        let answers = paced(Arc::clone(&app), request, every, length).await;
        let calls = app
            .limiter
            .as_ref()
            .map_or(0, |limiter| limiter.lease_calls());
        println!("{}", Tally::of(&answers, calls).to_json());
    });
}

/// Floods with [`CONTAINERS`] container processes from `start` (Unix ms)
/// and sums what they answered.
async fn flood_processes(
    key: &str,
    uri: &str,
    every: Duration,
    seconds: u64,
    start_ms: u64,
) -> Tally {
    let exe = std::env::current_exe().expect("this binary");
    let children: Vec<_> = (0..CONTAINERS)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .arg(CONTAINER_COMMAND)
                .args([
                    key.to_owned(),
                    uri.to_owned(),
                    (every.as_micros() as u64).to_string(),
                    seconds.to_string(),
                    start_ms.to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("start a container process")
        })
        .collect();
    let mut tally = Tally::default();
    for child in children {
        let output = child.wait_with_output().await.expect("a container process");
        assert!(
            output.status.success(),
            "a container process failed: {}",
            output.status
        );
        let line: Value = serde_json::from_slice(&output.stdout).expect("a container's JSON line");
        tally.add_json(&line);
    }
    tally
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as u64
}

/// The section's table and the goals it misses.
pub async fn limits_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
) -> (String, Vec<String>) {
    let table = Table::new(base.clone(), &settings.table);
    let seconds: u64 = env_or("BENCH_LIMITS_SECONDS", 40);
    let length = Duration::from_secs(seconds);
    let mut misses = Vec::new();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Rate limits: {CONTAINERS} container processes flood one organization (plan standard, {LIMIT} requests/s, burst {}) at {}× for {seconds} s",
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
    let setup_app = apps(base, &settings.table, 1, true).remove(0);
    let neighbour_app = apps(base, &settings.table, 1, true).remove(0);
    let flooded_uri = one_client(&setup_app, &flooded_key).await.1;
    let neighbour_get = one_client(&neighbour_app, &neighbour_key).await.0;

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

    // The flood, from processes of their own, with the neighbour beside it
    // (here) from the same moment on.
    say("limits: the flood");
    let every = Duration::from_secs_f64(CONTAINERS as f64 / f64::from(LIMIT * FLOOD_FACTOR));
    let start_ms = unix_ms() + 2_000;
    let flooding = flood_processes(&flooded_key, &flooded_uri, every, seconds, start_ms);
    let during = async {
        tokio::time::sleep(Duration::from_millis(start_ms.saturating_sub(unix_ms()))).await;
        paced(
            Arc::clone(&neighbour_app),
            neighbour_get.clone(),
            NEIGHBOUR_EVERY,
            length,
        )
        .await
    };
    let (flood, during) = tokio::join!(flooding, during);
    let during = latencies(&during);
    let seconds = seconds as f64;
    let Tally {
        accepted,
        refused,
        well_formed,
        other,
        fields_on_accepted,
        lease_calls: calls,
        mut refusal_latencies,
    } = flood;
    let accepted_rate = accepted as f64 / seconds;
    let offered_rate = (accepted + refused + other) as f64 / seconds;
    let deviation = accepted_rate / f64::from(LIMIT) - 1.0;
    let refusal_p50 = percentile(&mut refusal_latencies, 0.5);
    let per_accepted = calls as f64 / accepted.max(1) as f64;

    let _ = writeln!(
        out,
        "  flood: offered {offered_rate:.0}/s, accepted {accepted_rate:.1}/s ({:+.1} % of {LIMIT}/s), {} × 429 ({well_formed} with Retry-After and the RateLimit fields), {other} other; RateLimit fields on {fields_on_accepted} of {accepted} accepted",
        deviation * 100.0,
        thousands(refused)
    );
    let _ = writeln!(
        out,
        "  limiter: {calls} DynamoDB calls (each container's first probe included) for {accepted} accepted requests = {per_accepted:.4} per accepted request (goal ≤ 0.02); a refusal's p50 {}",
        ms(refusal_p50)
    );
    if deviation.abs() > 0.10 {
        misses.push(format!(
            "limits: accepted {accepted_rate:.1}/s is not within ±10 % of {LIMIT}/s"
        ));
    }
    if well_formed != refused || other != 0 {
        misses.push(format!(
            "limits: {} of {refused} refusals lack Retry-After or the fields, {other} other answers",
            refused - well_formed,
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
    let overhead_get = one_client(&on, &overhead_key).await.0;
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
    let search_for = length;
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

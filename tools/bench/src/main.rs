//! `bench`: the performance figures of docs/performance.md, each beside its
//! baseline measured in the same run. Run it with `scripts/bench`, which
//! builds it and the functions in release and starts DynamoDB Local.
//!
//! 1. Cost vs organization size: seeds organizations of `BENCH_SIZES`
//!    clients, then sends every kind of request through the handlers with
//!    an SDK interceptor ([`meter`]) counting DynamoDB calls, items read and
//!    capacity units as DynamoDB reports them.
//! 2. Overhead: requests/s and latency of get, create and a list page
//!    through the handlers vs the same DynamoDB calls made with the SDK.
//! 3. Warm-up: first-request latency of a fresh `App` with and without
//!    [`shared::App::warm_up`].
//! 4. Cold start: each release function binary and `hello-lambda` through a
//!    Runtime API emulator ([`emulator`]): init, first answer, size, peak RSS.
//!
//! Settings (environment): `BENCH_SIZES` (1000,10000,100000),
//! `BENCH_CONCURRENCY` (8), `BENCH_SECONDS` per load run (4), `BENCH_ROUNDS`
//! of direct/API runs (2), `BENCH_COLD_RUNS` (7), `BENCH_SECTIONS`
//! (cost,overhead,warmup,cold), `BENCH_BIN_DIR` (this binary's directory),
//! `BENCH_TABLE` (clients-bench). DynamoDB Local comes from
//! `AWS_ENDPOINT_URL_DYNAMODB`.

mod emulator;
mod meter;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use lambda_http::http::{Method, Request as HttpRequest};
use local_api::Function;
use serde_json::{json, Value};
use shared::domain::model::{Client, ClientId, OrgId, Status};
use shared::function::Config;
use shared::store::counts::COUNTS_SK;
use shared::store::import::{import_clients, sample_clients};
use shared::store::item::{client_key, org_pk, to_item};
use shared::store::keys::KeyStore;
use shared::store::schema::{self, attr, BY_CREATED};
use shared::store::Table;
use shared::App;

use meter::{Meter, Tally};

const FUNCTIONS: [&str; 5] = [
    "list-clients",
    "get-client",
    "create-client",
    "update-client",
    "delete-client",
];

struct Settings {
    sizes: Vec<usize>,
    concurrency: usize,
    seconds: f64,
    rounds: usize,
    cold_runs: usize,
    sections: Vec<String>,
    bin_dir: PathBuf,
    table: String,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not valid")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Self {
        let sizes = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "1000,10000,100000".into());
        let sections =
            std::env::var("BENCH_SECTIONS").unwrap_or_else(|_| "cost,overhead,warmup,cold".into());
        let exe = std::env::current_exe().expect("this binary's path");
        Self {
            sizes: sizes
                .split(',')
                .map(|s| {
                    s.trim()
                        .replace('_', "")
                        .parse()
                        .expect("BENCH_SIZES: numbers separated by commas")
                })
                .collect(),
            concurrency: env_or("BENCH_CONCURRENCY", 8),
            seconds: env_or("BENCH_SECONDS", 4.0),
            rounds: env_or("BENCH_ROUNDS", 2),
            cold_runs: env_or("BENCH_COLD_RUNS", 7),
            sections: sections.split(',').map(|s| s.trim().to_owned()).collect(),
            bin_dir: std::env::var_os("BENCH_BIN_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| exe.parent().expect("a directory").to_owned()),
            table: std::env::var("BENCH_TABLE").unwrap_or_else(|_| "clients-bench".into()),
        }
    }

    fn runs(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

fn say(message: impl AsRef<str>) {
    eprintln!("bench: {}", message.as_ref());
}

// ---------------------------------------------------------------- requests

/// A request as API Gateway delivers it: the route's function and the event's JSON.
#[derive(Clone)]
struct Prepared {
    function: Function,
    event: String,
}

fn prepare(method: Method, uri: &str, key: &str, body: Option<&Value>) -> Prepared {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut builder = HttpRequest::builder()
        .method(method.clone())
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let (parts, ()) = builder.body(()).expect("a valid request").into_parts();
    let route = local_api::route(&parts.method, parts.uri.path())
        .unwrap_or_else(|| panic!("no route for {uri}"));
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let mut event = local_api::gateway_event(&parts, &body, &route, "bench-request");
    event["rawQueryString"] = Value::String(query.to_owned());
    Prepared {
        function: route.function,
        event: event.to_string(),
    }
}

/// Runs a request through its handler as the Lambda function would (the
/// event parsed by lambda_http, the response body serialized).
async fn send(app: &App, request: &Prepared) -> (u16, Value) {
    let lambda_request =
        lambda_http::request::from_str(&request.event).expect("a valid gateway event");
    let response = local_api::invoke(app, request.function, lambda_request).await;
    let (parts, body) = response.into_parts();
    let body: Value = serde_json::from_slice(body.as_ref()).unwrap_or(Value::Null);
    (parts.status.as_u16(), body)
}

/// One operation of a load run: given the request number, whether it succeeded.
type Op = Arc<dyn Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Sends the `n`-th of `requests` (round robin) through the handlers; a
/// success is the `expected` status.
fn api_op(app: &Arc<App>, requests: Arc<Vec<Prepared>>, expected: u16) -> Op {
    let app = Arc::clone(app);
    Arc::new(move |n| {
        let (app, requests) = (Arc::clone(&app), Arc::clone(&requests));
        Box::pin(async move {
            let request = &requests[n as usize % requests.len()];
            send(&app, request).await.0 == expected
        })
    })
}

async fn send_ok(app: &App, request: &Prepared, expected: u16, what: &str) -> Value {
    let (status, body) = send(app, request).await;
    assert_eq!(status, expected, "{what}: {body}");
    body
}

// ---------------------------------------------------------------- seeding

struct Org {
    size: usize,
    org: OrgId,
    key: String,
    clients: Vec<Client>,
}

// ---------------------------------------------------------------- cost

struct CostRow {
    label: String,
    /// Per organization size (same order as the sizes); `None` = not applicable.
    cells: Vec<Option<Tally>>,
    note: &'static str,
    /// Expected to grow with the organization (search, offset).
    grows_by_design: bool,
}

async fn measure(
    app: &App,
    meter: &Meter,
    request: &Prepared,
    expected: u16,
    what: &str,
) -> (Tally, Value) {
    meter.take();
    let (status, body) = send(app, request).await;
    let mut tally = meter.take();
    if status != expected {
        say(format!("{what}: HTTP {status}: {body}"));
        tally.failed = Some(status);
    }
    (tally, body)
}

async fn cost_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    orgs: &[Org],
) -> Vec<CostRow> {
    let meter = Meter::default();
    let config = Config {
        table_name: settings.table.clone(),
        key_cache_ttl: Duration::from_secs(60),
        metrics_namespace: None,
    };
    let metered = meter.wrap(base);
    let app = App::new(metered.clone(), &config);
    let n = orgs.len();
    let mut rows: Vec<CostRow> = Vec::new();
    let mut put =
        |label: &str, index: usize, tally: Option<Tally>, note: &'static str, grows: bool| {
            if let Some(row) = rows.iter_mut().find(|r| r.label == label) {
                row.cells[index] = tally;
            } else {
                let mut cells = vec![None; n];
                cells[index] = tally;
                rows.push(CostRow {
                    label: label.to_owned(),
                    cells,
                    note,
                    grows_by_design: grows,
                });
            }
        };
    for (index, org) in orgs.iter().enumerate() {
        say(format!("cost: organization of {} clients", org.size));
        let key = &org.key;
        let middle = &org.clients[org.clients.len() / 2];
        let uri = format!("/api/v1/clients/{}", middle.id);
        // Warms the key cache: every row below is measured without the key look-up.
        send_ok(&app, &prepare(Method::GET, &uri, key, None), 200, "get").await;
        let (tally, _) = measure(
            &app,
            &meter,
            &prepare(Method::GET, &uri, key, None),
            200,
            "get",
        )
        .await;
        put("GET /clients/{id}", index, Some(tally), "", false);
        let auth = auth_only(&metered, &meter, key, &settings.table).await;
        put(
            "  + key look-up (cache miss, ≤ once a minute)",
            index,
            Some(first_diff(&auth)),
            "",
            false,
        );

        let body = json!({"name": "Bench Created", "phone": "+1 555-0000", "notes": "created by the benchmark"});
        let (tally, created) = measure(
            &app,
            &meter,
            &prepare(Method::POST, "/api/v1/clients", key, Some(&body)),
            201,
            "create",
        )
        .await;
        put("POST /clients", index, Some(tally), "", false);
        let created_id = created["data"]["id"]
            .as_str()
            .expect("the created id")
            .to_owned();

        let patch = json!({"name": "Bench Renamed", "status": "inactive"});
        let uri = format!("/api/v1/clients/{created_id}");
        let (tally, _) = measure(
            &app,
            &meter,
            &prepare(Method::PATCH, &uri, key, Some(&patch)),
            200,
            "update",
        )
        .await;
        put(
            "PATCH /clients/{id} (status change)",
            index,
            Some(tally),
            "",
            false,
        );
        let patch = json!({"notes": "changed"});
        let uri = format!("/api/v1/clients/{}", middle.id);
        let (tally, _) = measure(
            &app,
            &meter,
            &prepare(Method::PATCH, &uri, key, Some(&patch)),
            200,
            "update",
        )
        .await;
        put("PATCH /clients/{id} (notes)", index, Some(tally), "", false);

        let uri = format!("/api/v1/clients/{created_id}");
        let (tally, _) = measure(
            &app,
            &meter,
            &prepare(Method::DELETE, &uri, key, None),
            200,
            "delete",
        )
        .await;
        put("DELETE /clients/{id}", index, Some(tally), "", false);

        let lists: [(&str, &str, bool); 10] = [
            ("list: first page (limit 50)", "limit=50", false),
            (
                "list: sortBy=createdAt desc",
                "limit=50&sortBy=createdAt&sortOrder=desc",
                false,
            ),
            ("list: sortBy=name", "limit=50&sortBy=name", false),
            (
                "list: sortBy=phone desc",
                "limit=50&sortBy=phone&sortOrder=desc",
                false,
            ),
            ("list: sortBy=status", "limit=50&sortBy=status", false),
            (
                "list: sortBy=status desc",
                "limit=50&sortBy=status&sortOrder=desc",
                false,
            ),
            ("list: status=inactive", "limit=50&status=inactive", false),
            (
                "list: status=active sortBy=name",
                "limit=50&status=active&sortBy=name",
                false,
            ),
            (
                "list: search name \"client 00004\"",
                "limit=50&query=client%2000004",
                true,
            ),
            (
                "list: search phone \"555-12\"",
                "limit=50&query=555-12",
                true,
            ),
        ];
        // The offset rows run before the searches: at 100,000 clients a search
        // can time out in DynamoDB Local, whose abandoned queries then slow
        // whatever comes next.
        let mut offset_measured = false;
        for (label, query, grows) in lists {
            if grows && !offset_measured {
                offset_measured = true;
                let request = prepare(
                    Method::GET,
                    "/api/v1/clients?limit=50&offset=1000",
                    key,
                    None,
                );
                let (tally, body) = measure(&app, &meter, &request, 200, "offset page").await;
                put(
                    "list: offset=1000",
                    index,
                    Some(tally),
                    "O(offset) by design",
                    true,
                );
                let tally = match body["nextCursor"].as_str() {
                    Some(cursor) => {
                        let request = prepare(
                            Method::GET,
                            &format!("/api/v1/clients?limit=50&cursor={cursor}"),
                            key,
                            None,
                        );
                        Some(
                            measure(&app, &meter, &request, 200, "cursor after offset")
                                .await
                                .0,
                        )
                    }
                    None => None,
                };
                put(
                    "list: page after offset=1000 by cursor",
                    index,
                    tally,
                    "",
                    false,
                );
            }
            let request = prepare(Method::GET, &format!("/api/v1/clients?{query}"), key, None);
            let (tally, body) = measure(&app, &meter, &request, 200, label).await;
            put(
                label,
                index,
                Some(tally),
                if grows {
                    "search: reads the compact index"
                } else {
                    ""
                },
                grows,
            );
            if query == "limit=50" {
                let cursor = body["nextCursor"].as_str().map(str::to_owned);
                let tally = match cursor {
                    Some(cursor) => {
                        let request = prepare(
                            Method::GET,
                            &format!("/api/v1/clients?limit=50&cursor={cursor}"),
                            key,
                            None,
                        );
                        Some(measure(&app, &meter, &request, 200, "cursor page").await.0)
                    }
                    None => None,
                };
                put("list: 2nd page by cursor", index, tally, "", false);
            }
        }
    }
    rows
}

/// The cost of authenticating with a key that is not cached: a fresh `App`
/// (empty key cache) answering one request, minus the same request warm.
async fn auth_only(
    metered: &aws_sdk_dynamodb::Client,
    meter: &Meter,
    key: &str,
    table: &str,
) -> (Tally, Tally) {
    let config = Config {
        table_name: table.to_owned(),
        key_cache_ttl: Duration::from_secs(60),
        metrics_namespace: None,
    };
    let fresh = App::new(metered.clone(), &config);
    let request = prepare(
        Method::GET,
        "/api/v1/clients/01890000-0000-7000-8000-000000000000",
        key,
        None,
    );
    meter.take();
    send_ok(&fresh, &request, 404, "cold key").await;
    let cold = meter.take();
    send_ok(&fresh, &request, 404, "warm key").await;
    let warm = meter.take();
    (cold, warm)
}

fn first_diff((cold, warm): &(Tally, Tally)) -> Tally {
    Tally {
        calls: cold.calls - warm.calls,
        read: cold.read - warm.read,
        written: cold.written - warm.written,
        read_units: cold.read_units - warm.read_units,
        write_units: cold.write_units - warm.write_units,
        operations: Vec::new(),
        failed: None,
    }
}

fn units(value: f64) -> String {
    if value == value.trunc() {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn cost_table(sizes: &[usize], rows: &[CostRow]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut misses = Vec::new();
    let _ = writeln!(out, "Cost per request vs organization size: DynamoDB calls / items read / capacity units (read+write),");
    let _ = writeln!(out, "as DynamoDB reported them (ScannedCount, items returned, ConsumedCapacity); key look-up cached.");
    let mut header = format!("{:<42}", "request");
    for size in sizes {
        let _ = write!(
            header,
            " {:>18}",
            format!("n = {}", thousands(*size as u64))
        );
    }
    let _ = writeln!(out, "{header}  {}", "flat?");
    for row in rows {
        let mut line = format!("{:<42}", row.label);
        for cell in &row.cells {
            let text = match cell {
                Some(Tally {
                    failed: Some(status),
                    calls,
                    ..
                }) => format!("HTTP {status} ({calls} calls)"),
                Some(t) => format!(
                    "{} / {} / {}",
                    t.calls,
                    t.read,
                    units(t.read_units + t.write_units)
                ),
                None => "—".to_owned(),
            };
            let _ = write!(line, " {:>18}", text);
        }
        let failed: Vec<u16> = row
            .cells
            .iter()
            .flatten()
            .filter_map(|t| t.failed)
            .collect();
        if !failed.is_empty() {
            misses.push(format!(
                "{}: failed with HTTP {failed:?} at the largest size(s)",
                row.label
            ));
        }
        let present: Vec<&Tally> = row
            .cells
            .iter()
            .flatten()
            .filter(|t| t.failed.is_none())
            .collect();
        let verdict = match (present.first(), present.last()) {
            (Some(a), Some(b)) if present.len() >= 2 => {
                let flat = b.calls <= a.calls && b.read <= a.read + a.read / 10 + 2;
                if flat {
                    "flat".to_owned()
                } else if row.grows_by_design {
                    format!(
                        "grows ×{:.0} ({})",
                        b.read as f64 / a.read.max(1) as f64,
                        row.note
                    )
                } else {
                    misses.push(row.label.clone());
                    format!("GROWS ×{:.1} (bug)", b.read as f64 / a.read.max(1) as f64)
                }
            }
            _ => String::new(),
        };
        let _ = writeln!(out, "{line}  {verdict}");
    }
    (out, misses)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------- load

#[derive(Default)]
struct Load {
    count: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Load {
    fn merge(&mut self, other: Load) {
        self.count += other.count;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&mut self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.sort_unstable();
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }
}

/// Runs `operation` from `concurrency` tasks for `duration`; each call
/// gets a sequence number. `Ok(false)` counts as an error.
async fn run_load<F, Fut>(concurrency: usize, duration: Duration, operation: F) -> Load
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let operation = Arc::new(operation);
    let stop = Arc::new(AtomicBool::new(false));
    let sequence = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (operation, stop, sequence) = (operation.clone(), stop.clone(), sequence.clone());
        tasks.spawn(async move {
            let mut load = Load::default();
            while !stop.load(Ordering::Relaxed) {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = operation(n).await;
                load.latencies.push(t.elapsed());
                load.count += 1;
                load.errors += u64::from(!ok);
            }
            load
        });
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Load::default();
    while let Some(load) = tasks.join_next().await {
        total.merge(load.expect("a load task"));
    }
    total.elapsed = started.elapsed();
    total
}

struct OverheadRow {
    label: &'static str,
    api: Load,
    direct: Load,
}

async fn overhead_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    org: &Org,
) -> Vec<OverheadRow> {
    let config = Config {
        table_name: settings.table.clone(),
        key_cache_ttl: Duration::from_secs(60),
        metrics_namespace: None,
    };
    let app = Arc::new(App::new(base.clone(), &config));
    let table = Table::new(base.clone(), &settings.table);
    let duration = Duration::from_secs_f64(settings.seconds);
    let ids: Arc<Vec<ClientId>> = Arc::new(
        org.clients
            .iter()
            .step_by(7)
            .take(5_000)
            .map(|c| c.id)
            .collect(),
    );
    let gets: Arc<Vec<Prepared>> = Arc::new(
        ids.iter()
            .map(|id| {
                prepare(
                    Method::GET,
                    &format!("/api/v1/clients/{id}"),
                    &org.key,
                    None,
                )
            })
            .collect(),
    );
    let body =
        json!({"name": "Load Created", "phone": "+1 555-0101", "notes": "created under load"});
    let create = prepare(Method::POST, "/api/v1/clients", &org.key, Some(&body));
    let list = prepare(Method::GET, "/api/v1/clients?limit=50", &org.key, None);
    let org_id = Arc::new(org.org.clone());

    let api_get = api_op(&app, gets.clone(), 200);
    let direct_get: Op = {
        let (table, ids, org) = (table.clone(), ids.clone(), org_id.clone());
        Arc::new(move |n| {
            let (table, ids, org) = (table.clone(), ids.clone(), org.clone());
            Box::pin(async move {
                let id = ids[n as usize % ids.len()];
                let output = table
                    .client
                    .get_item()
                    .table_name(&table.name)
                    .set_key(Some(client_key(&org, id)))
                    .consistent_read(true)
                    .send()
                    .await;
                matches!(output, Ok(o) if o.item.is_some())
            })
        })
    };
    let api_create = api_op(&app, Arc::new(vec![create]), 201);
    let direct_create: Op = {
        let (table, org) = (table.clone(), org_id.clone());
        Arc::new(move |_| {
            let (table, org) = (table.clone(), org.clone());
            Box::pin(async move {
                let id = ClientId::new();
                let client = Client {
                    id,
                    name: "Load Created".into(),
                    phone: Some("+1 555-0101".into()),
                    status: Status::Active,
                    notes: Some("created under load".into()),
                    created_at: id.created_at(),
                    updated_at: id.created_at(),
                    version: 1,
                };
                let put = Put::builder()
                    .table_name(&table.name)
                    .set_item(Some(to_item(&org, &client).expect("an item")))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .expect("a put");
                let counts = Update::builder()
                    .table_name(&table.name)
                    .key("pk", AttributeValue::S(org_pk(&org)))
                    .key("sk", AttributeValue::S(COUNTS_SK.into()))
                    .update_expression("ADD #s0 :d0")
                    .expression_attribute_names("#s0", "active")
                    .expression_attribute_values(":d0", AttributeValue::N("1".into()))
                    .build()
                    .expect("an update");
                table
                    .client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(put).build())
                    .transact_items(TransactWriteItem::builder().update(counts).build())
                    .send()
                    .await
                    .is_ok()
            })
        })
    };
    let api_list = api_op(&app, Arc::new(vec![list]), 200);
    let direct_list: Op = {
        let (table, org) = (table.clone(), org_id.clone());
        Arc::new(move |_| {
            let (table, org) = (table.clone(), org.clone());
            Box::pin(async move { direct_list_page(&table, &org).await.is_some() })
        })
    };

    let kinds: [(&'static str, Op, Op); 3] = [
        ("GET /clients/{id}", api_get, direct_get),
        ("POST /clients", api_create, direct_create),
        ("GET /clients?limit=50", api_list, direct_list),
    ];
    let mut rows = Vec::new();
    for (label, api, direct) in kinds {
        say(format!("overhead: {label}"));
        // Warm both paths (connections, caches) before measuring.
        let warm = Duration::from_millis(500);
        let (a, d) = (api.clone(), direct.clone());
        run_load(settings.concurrency, warm, move |n| a(n)).await;
        run_load(settings.concurrency, warm, move |n| d(n)).await;
        let mut row = OverheadRow {
            label,
            api: Load::default(),
            direct: Load::default(),
        };
        for round in 0..settings.rounds {
            // Alternate which goes first so drift in DynamoDB Local hits both alike.
            let order: [bool; 2] = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for is_api in order {
                let op = if is_api { api.clone() } else { direct.clone() };
                let load = run_load(settings.concurrency, duration, move |n| op(n)).await;
                if is_api {
                    row.api.merge(load)
                } else {
                    row.direct.merge(load)
                }
            }
        }
        rows.push(row);
    }
    rows
}

/// The DynamoDB calls of a first list page, made directly: the counts, 51
/// entries of the keys-only walk, and the 50 items.
async fn direct_list_page(table: &Table, org: &OrgId) -> Option<usize> {
    let counts = table
        .client
        .get_item()
        .table_name(&table.name)
        .key("pk", AttributeValue::S(org_pk(org)))
        .key("sk", AttributeValue::S(COUNTS_SK.into()))
        .consistent_read(true)
        .send()
        .await
        .ok()?;
    counts.item?;
    let entries = table
        .client
        .query()
        .table_name(&table.name)
        .index_name(BY_CREATED.name)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", attr::PK)
        .expression_attribute_names("#sk", attr::SK)
        .expression_attribute_names("#sort", BY_CREATED.sort_key)
        .expression_attribute_values(":p", AttributeValue::S(org_pk(org)))
        .projection_expression("#sk, #sort")
        .limit(51)
        .send()
        .await
        .ok()?;
    let keys: Vec<HashMap<String, AttributeValue>> = entries
        .items()
        .iter()
        .take(50)
        .map(|entry| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(org_pk(org))),
                ("sk".to_owned(), entry.get(attr::SK).cloned().expect("sk")),
            ])
        })
        .collect();
    let output = table
        .client
        .batch_get_item()
        .request_items(
            &table.name,
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .ok()?,
        )
        .send()
        .await
        .ok()?;
    Some(output.responses()?.get(&table.name)?.len())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn overhead_table(settings: &Settings, rows: &mut [OverheadRow]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut misses = Vec::new();
    let _ = writeln!(
        out,
        "Overhead: through the handlers (API) vs the same DynamoDB calls made directly with the SDK;\n\
         concurrency {}, {} × {:.0} s per side, alternating; same DynamoDB Local. Goal: API ≥ 90 % of direct.",
        settings.concurrency, settings.rounds, settings.seconds
    );
    let _ = writeln!(
        out,
        "{:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "request", "API req/s", "p50", "p99", "direct/s", "p50", "p99", "ratio"
    );
    for row in rows.iter_mut() {
        let ratio = row.api.rate() / row.direct.rate().max(1e-9);
        if ratio < 0.90 {
            misses.push(format!("overhead {}: {:.0} %", row.label, ratio * 100.0));
        }
        let errors = if row.api.errors + row.direct.errors > 0 {
            format!(
                "  (errors: API {}, direct {})",
                row.api.errors, row.direct.errors
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<24} {:>10.0} {:>10} {:>10} {:>10.0} {:>10} {:>10} {:>6.0}%{}",
            row.label,
            row.api.rate(),
            ms(row.api.percentile(0.5)),
            ms(row.api.percentile(0.99)),
            row.direct.rate(),
            ms(row.direct.percentile(0.5)),
            ms(row.direct.percentile(0.99)),
            ratio * 100.0,
            errors
        );
    }
    (out, misses)
}

// ---------------------------------------------------------------- warm-up

fn median(mut values: Vec<Duration>) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    values[values.len() / 2]
}

/// First-request latency of a fresh `App` (new SDK client, no connection),
/// with and without `App::warm_up` before it.
async fn warmup_section(settings: &Settings, org: &Org) -> String {
    let config = Config {
        table_name: settings.table.clone(),
        key_cache_ttl: Duration::from_secs(60),
        metrics_namespace: None,
    };
    let request = prepare(
        Method::GET,
        &format!("/api/v1/clients/{}", org.clients[0].id),
        &org.key,
        None,
    );
    let runs = settings.cold_runs.max(5);
    let (mut without, mut with, mut warmups, mut second) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        for warm in [false, true] {
            let app = App::new(shared::store::connect().await, &config);
            if warm {
                let t = Instant::now();
                app.warm_up().await;
                warmups.push(t.elapsed());
            }
            let t = Instant::now();
            send_ok(&app, &request, 200, "first get").await;
            let first = t.elapsed();
            if warm {
                with.push(first);
            } else {
                without.push(first);
                let t = Instant::now();
                send_ok(&app, &request, 200, "second get").await;
                second.push(t.elapsed());
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Warm-up: first GET /clients/{{id}} of a fresh App (new SDK client; key look-up + GetItem), median of {runs}\n\
         (plain HTTP to DynamoDB Local: no TLS here, so the real saving in AWS is larger)"
    );
    let _ = writeln!(
        out,
        "  without warm-up: first request {}",
        ms(median(without))
    );
    let _ = writeln!(
        out,
        "  with warm-up:    first request {} (warm-up itself, during init: {})",
        ms(median(with)),
        ms(median(warmups))
    );
    let _ = writeln!(
        out,
        "  a warm request (second one, for reference): {}",
        ms(median(second))
    );
    out
}

/// In a fresh process (`bench init-probe`): how long each step of a
/// function's init takes, in microseconds, as one JSON line.
fn init_probe() {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let runtime_us = started.elapsed().as_micros() as u64;
    runtime.block_on(async {
        let t = Instant::now();
        let app = App::from_env().await.expect("the configuration");
        let from_env_us = t.elapsed().as_micros() as u64;
        let t = Instant::now();
        app.warm_up().await;
        let warm_up_us = t.elapsed().as_micros() as u64;
        let t = Instant::now();
        app.warm_up().await;
        let second_us = t.elapsed().as_micros() as u64;
        let t = Instant::now();
        let roots = rustls_native_certs::load_native_certs();
        let roots_us = t.elapsed().as_micros() as u64;
        println!(
            "{}",
            json!({"runtime_us": runtime_us, "from_env_us": from_env_us, "warm_up_us": warm_up_us,
                   "second_us": second_us, "roots_us": roots_us, "roots": roots.certs.len()})
        );
    });
}

/// Medians of `init-probe` over `runs` fresh processes.
async fn init_breakdown(settings: &Settings, runs: usize) -> String {
    let exe = std::env::current_exe().expect("this binary");
    let mut samples: HashMap<&'static str, Vec<Duration>> = HashMap::new();
    let mut roots = 0;
    let keys = [
        "runtime_us",
        "from_env_us",
        "warm_up_us",
        "second_us",
        "roots_us",
    ];
    for _ in 0..runs {
        let output = tokio::process::Command::new(&exe)
            .arg("init-probe")
            .env("TABLE_NAME", &settings.table)
            .output()
            .await
            .expect("run init-probe");
        let line: Value = serde_json::from_slice(&output.stdout).expect("init-probe's JSON");
        for key in keys {
            samples
                .entry(key)
                .or_default()
                .push(Duration::from_micros(line[key].as_u64().unwrap_or(0)));
        }
        roots = line["roots"].as_u64().unwrap_or(0);
    }
    let mut m = |key: &str| ms(median(samples.remove(key).unwrap_or_default()));
    format!(
        "Init steps in a fresh process (median of {runs}): Tokio runtime {}, App::from_env (SDK config, HTTPS client) {},\n\
         \x20 App::warm_up, the first DynamoDB call (rustls config from Amazon's 5 roots, TCP connect, credentials, GetItem) {},\n\
         \x20 a second call {}; for comparison, loading the system's {roots} root certificates (which the functions skip) takes {}\n",
        m("runtime_us"),
        m("from_env_us"),
        m("warm_up_us"),
        m("second_us"),
        m("roots_us"),
    )
}

// ---------------------------------------------------------------- cold start

struct ColdRow {
    name: String,
    size: u64,
    ready: Duration,
    answered: Duration,
    rss_kib: u64,
    status: String,
}

async fn cold_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    org: &Org,
) -> Vec<ColdRow> {
    let mut env: Vec<(String, String)> = [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_EC2_METADATA_DISABLED",
    ]
    .iter()
    .filter_map(|v| std::env::var(v).ok().map(|value| (v.to_string(), value)))
    .collect();
    env.push(("TABLE_NAME".into(), settings.table.clone()));

    // Clients for the update and delete events: one per run.
    let config = Config {
        table_name: settings.table.clone(),
        key_cache_ttl: Duration::from_secs(60),
        metrics_namespace: None,
    };
    let app = App::new(base.clone(), &config);
    let mut victims = Vec::new();
    for i in 0..settings.cold_runs * 2 {
        let body = json!({"name": format!("Cold {i}")});
        let created = send_ok(
            &app,
            &prepare(Method::POST, "/api/v1/clients", &org.key, Some(&body)),
            201,
            "create",
        )
        .await;
        victims.push(created["data"]["id"].as_str().expect("an id").to_owned());
    }
    let existing = org.clients[1].id;
    let event_for = |name: &str, run: usize| -> String {
        let key = &org.key;
        let prepared = match name {
            "list-clients" => prepare(Method::GET, "/api/v1/clients?limit=50", key, None),
            "create-client" => prepare(
                Method::POST,
                "/api/v1/clients",
                key,
                Some(&json!({"name": "Cold Start"})),
            ),
            "update-client" => prepare(
                Method::PATCH,
                &format!("/api/v1/clients/{}", victims[run]),
                key,
                Some(&json!({"notes": "cold"})),
            ),
            "delete-client" => prepare(
                Method::DELETE,
                &format!("/api/v1/clients/{}", victims[settings.cold_runs + run]),
                key,
                None,
            ),
            _ => prepare(
                Method::GET,
                &format!("/api/v1/clients/{existing}"),
                key,
                None,
            ),
        };
        prepared.event
    };

    let mut rows = Vec::new();
    let names: Vec<&str> = std::iter::once("hello-lambda").chain(FUNCTIONS).collect();
    for name in names {
        let binary = settings.bin_dir.join(name);
        let size = std::fs::metadata(&binary)
            .unwrap_or_else(|e| panic!("{}: {e} (build it in release first)", binary.display()))
            .len();
        say(format!("cold start: {name} × {}", settings.cold_runs));
        let (mut ready, mut answered, mut rss, mut statuses) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..settings.cold_runs {
            let event = event_for(name, run);
            match emulator::cold_start(&binary, &env, &event).await {
                Ok(c) => {
                    ready.push(c.ready);
                    answered.push(c.answered);
                    rss.push(c.peak_rss_kib);
                    statuses.push(c.status.map_or("?".to_owned(), |s| s.to_string()));
                }
                Err(error) => panic!("cold start of {name}: {error}"),
            }
        }
        rss.sort_unstable();
        statuses.dedup();
        rows.push(ColdRow {
            name: name.to_owned(),
            size,
            ready: median(ready),
            answered: median(answered),
            rss_kib: rss[rss.len() / 2],
            status: statuses.join(","),
        });
    }
    rows
}

fn cold_table(settings: &Settings, rows: &[ColdRow]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut misses = Vec::new();
    let hello = rows
        .iter()
        .find(|r| r.name == "hello-lambda")
        .expect("the baseline");
    let _ = writeln!(
        out,
        "Cold start through a local Runtime API emulator (median of {} runs; first event: a real request,\n\
         key look-up included); binaries from {}. Goals: init ≤ 1.2× hello-lambda, binary ≤ 8 MB, RSS ≤ 32 MB.",
        settings.cold_runs,
        settings.bin_dir.display()
    );
    let _ = writeln!(
        out,
        "{:<14} {:>10} {:>11} {:>7} {:>15} {:>10} {:>7}",
        "binary", "size", "init", "×hello", "first answered", "peak RSS", "status"
    );
    for row in rows {
        let ratio = row.ready.as_secs_f64() / hello.ready.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "{:<14} {:>7.2} MB {:>11} {:>6.2}× {:>15} {:>7.1} MB {:>7}",
            row.name,
            row.size as f64 / 1e6,
            ms(row.ready),
            ratio,
            ms(row.answered),
            row.rss_kib as f64 / 1024.0,
            row.status
        );
        if row.name != "hello-lambda" {
            if ratio > 1.2 {
                misses.push(format!("init of {}: {:.2}× hello-lambda", row.name, ratio));
            }
            if row.size > 8_000_000 {
                misses.push(format!(
                    "size of {}: {:.2} MB",
                    row.name,
                    row.size as f64 / 1e6
                ));
            }
            if row.rss_kib > 32 * 1024 {
                misses.push(format!(
                    "RSS of {}: {:.1} MB",
                    row.name,
                    row.rss_kib as f64 / 1024.0
                ));
            }
        }
    }
    (out, misses)
}

// ---------------------------------------------------------------- main

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}, {memory} memory")
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("init-probe") {
        init_probe();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let settings = Settings::from_env();
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the benchmark with scripts/bench, which starts DynamoDB Local"
    );
    let base = shared::store::connect().await;
    let table = Table::new(base.clone(), &settings.table);
    schema::create_table(&table)
        .await
        .expect("create the bench table");

    let needs_orgs = settings.runs("cost")
        || settings.runs("overhead")
        || settings.runs("warmup")
        || settings.runs("cold");
    let mut orgs = Vec::new();
    let mut report = String::new();
    let _ = writeln!(report, "Machine: {}", machine());
    if needs_orgs {
        let sizes = if settings.runs("cost") {
            settings.sizes.clone()
        } else {
            vec![*settings.sizes.iter().min().unwrap_or(&1000)]
        };
        for size in sizes {
            let org: OrgId = format!("bench-{size}-{}", uuid::Uuid::now_v7().simple())
                .parse()
                .expect("an org id");
            let clients = sample_clients(size);
            let t = Instant::now();
            import_clients(&table, &org, &clients, 8)
                .await
                .expect("import the sample clients");
            let elapsed = t.elapsed();
            say(format!(
                "seeded {size} clients in {:.1} s ({:.0} items/s, 8 BatchWriteItem writers)",
                elapsed.as_secs_f64(),
                size as f64 / elapsed.as_secs_f64()
            ));
            let _ = writeln!(
                report,
                "Seeded {} clients in {:.1} s ({:.0}/s).",
                thousands(size as u64),
                elapsed.as_secs_f64(),
                size as f64 / elapsed.as_secs_f64()
            );
            let (key, _) = KeyStore::new(table.clone())
                .create_key(&org, "bench")
                .await
                .expect("an API key");
            orgs.push(Org {
                size,
                org,
                key: key.key,
                clients,
            });
        }
    }
    let sizes: Vec<usize> = orgs.iter().map(|o| o.size).collect();
    let mut misses = Vec::new();

    // Load, warm-up and cold starts run first, in the largest organization of
    // at most 10,000 clients: DynamoDB Local keeps working on a 100,000-client
    // search for a while after the SDK gave up on it, which would skew them.
    let largest = orgs
        .iter()
        .filter(|o| o.size <= 10_000)
        .max_by_key(|o| o.size)
        .or_else(|| orgs.iter().min_by_key(|o| o.size))
        .expect("an organization");
    if settings.runs("overhead") {
        let mut rows = overhead_section(&settings, &base, largest).await;
        let (text, miss) = overhead_table(&settings, &mut rows);
        let _ = writeln!(report, "{text}");
        misses.extend(miss);
    }
    if settings.runs("warmup") {
        let _ = write!(report, "{}", warmup_section(&settings, largest).await);
        let _ = writeln!(
            report,
            "{}",
            init_breakdown(&settings, settings.cold_runs.max(5)).await
        );
    }
    if settings.runs("cold") {
        let rows = cold_section(&settings, &base, largest).await;
        let (text, miss) = cold_table(&settings, &rows);
        let _ = writeln!(report, "{text}");
        misses.extend(miss);
    }
    if settings.runs("cost") {
        let rows = cost_section(&settings, &base, &orgs).await;
        let (text, miss) = cost_table(&sizes, &rows);
        let _ = writeln!(report, "\n{text}");
        misses.extend(miss);
    }
    if misses.is_empty() {
        let _ = writeln!(report, "Goals: all met.");
    } else {
        let _ = writeln!(report, "Goals missed:");
        for miss in &misses {
            let _ = writeln!(report, "  - {miss}");
        }
    }
    println!("{report}");
}

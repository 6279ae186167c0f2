//! `dynamodb-proxy`: a DynamoDB-faithful proxy in front of DynamoDB Local.
//!
//! DynamoDB Local never answers a transaction conflict, never throttles,
//! never fails, updates its indexes before it answers a write and has no
//! network in between. The proxy forwards the DynamoDB JSON protocol
//! (`X-Amz-Target: DynamoDB_20120810.<Op>`, SigV4 headers and `Host`
//! untouched) to it and adds what the service does, each part switchable in
//! [`ProxyConfig`] and counted in [`Summary`]:
//! - transaction conflicts ([`ProxyConfig::conflicts`]): a `TransactWriteItems`
//!   holds its items while in flight and for a hold after its answer; another
//!   transaction touching one gets `TransactionCanceledException`
//!   (`TransactionConflict` for that item), a `PutItem`/`UpdateItem`/`DeleteItem`
//!   gets `TransactionConflictException` ([`conflicts`], [`wire`]);
//! - per-partition throughput ([`ProxyConfig::throughput`]): token buckets
//!   per table and index partition key value, units as DynamoDB counts them,
//!   answering `ThrottlingException` ([`throughput`], [`cost`], [`size`]);
//! - index propagation lag ([`ProxyConfig::index_lag`]): a `Query` or `Scan`
//!   of a global secondary index sees the table as it was the lag ago
//!   (default [`DEFAULT_INDEX_LAG`], one second: "within 1 second"
//!   typically, AWS's figure); base-table reads stay strongly consistent
//!   when asked ([`index_view`], [`item_locks`]);
//! - server errors ([`ProxyConfig::server_errors`]): a seeded random rate of
//!   HTTP 500 `InternalServerError` on any operation, half answered instead
//!   of forwarding, half in place of the answer once the request was applied
//!   ([`server_errors`], [`wire`]);
//! - latency ([`ProxyConfig::latency`]) before each forwarded call;
//! - faults ([`Fault`]), armed at run time: writes whose outcome is unknown,
//!   and exact server errors.
//!
//! With every part off the proxy is a pass-through: the request and the
//! answer go through as they are, hop-by-hop headers aside.
//!
//! ```no_run
//! use std::time::Duration;
//! use dynamodb_proxy::{Fault, Proxy, ProxyConfig};
//!
//! # async fn example() -> std::io::Result<()> {
//! let proxy = Proxy::start(ProxyConfig {
//!     conflicts: Some(dynamodb_proxy::DEFAULT_HOLD),
//!     throughput: Some(Default::default()),
//!     index_lag: Some(dynamodb_proxy::DEFAULT_INDEX_LAG),
//!     latency: Duration::from_millis(3),
//!     ..ProxyConfig::transparent("http://127.0.0.1:8000")
//! })
//! .await?;
//! // Point the SDK at it: AWS_ENDPOINT_URL_DYNAMODB, or `endpoint_url(proxy.endpoint())`.
//! let endpoint = proxy.endpoint();
//! // The next TransactWriteItems is applied, but its answer never comes.
//! proxy.inject(Fault::WithholdAnswer {
//!     operation: "TransactWriteItems".into(),
//!     count: 1,
//!     delay: None,
//! });
//! // ... run the code under test against `endpoint` ...
//! let summary = proxy.summary();
//! assert_eq!(summary.answers_withheld, 1);
//! # Ok(()) }
//! ```
//!
//! The same over HTTP: `GET /_proxy/summary` (the [`Summary`] as JSON),
//! `POST /_proxy/faults` (a [`Fault`] as JSON, e.g. `{"kind":
//! "WithholdAnswer", "operation": "TransactWriteItems", "count": 1,
//! "delay_ms": 3000}` or `{"kind": "InternalServerError", "operation":
//! "PutItem", "count": 1, "forwarded": true}`), `DELETE /_proxy/faults`.
//!
//! The command line ([`cli`]) takes the same parts as flags, each with a
//! `DYNAMODB_PROXY_*` environment form.

pub mod answers;
pub mod cli;
mod config;
pub mod conflicts;
pub mod cost;
pub mod faults;
pub mod index_view;
pub mod item_locks;
mod rules;
pub mod schema;
pub mod server_errors;
pub mod size;
mod state;
pub mod summary;
pub mod throughput;
pub mod upstream;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

pub use config::{ProxyConfig, DEFAULT_HOLD, DEFAULT_INDEX_LAG, IN_REGION_LATENCY};
pub use faults::Fault;
pub use server_errors::ServerErrors;
pub use summary::Summary;
pub use throughput::Limits;

use rules::{Plan, Verdict};
use server_errors::When;
use state::Shared;

/// Why a connection is closed without an answer (a fault).
#[derive(Debug)]
struct Closed(&'static str);

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Closed {}

impl Shared {
    /// Answers one request.
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Closed> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Err(Closed("request body unreadable")),
        };
        if parts.uri.path().starts_with("/_proxy/") {
            return Ok(self.admin(&parts.method, parts.uri.path(), &body));
        }
        let operation = upstream::operation(&parts.headers).to_owned();
        let config = self.config();
        if !config.latency.is_zero() {
            tokio::time::sleep(config.latency).await;
            self.counters.delayed(config.latency);
        }
        if self.faults.drop_request(&operation) {
            self.counters.update(|s| s.requests_dropped += 1);
            return Err(Closed("fault: request dropped"));
        }
        let server_error = match self.faults.server_error(&operation) {
            Some(true) => Some(When::AfterForwarding),
            Some(false) => Some(When::BeforeForwarding),
            None => config
                .server_errors
                .as_ref()
                .and_then(|rate| self.draws.draw(rate)),
        };
        if server_error == Some(When::BeforeForwarding) {
            self.counters
                .update(|s| s.server_errors_before_forwarding += 1);
            return Ok(wire::internal_server_error());
        }
        let emulating = config.conflicts.is_some() || config.throughput.is_some();
        let lagging = config.index_lag.is_some();
        let json: Option<Value> = (emulating || lagging)
            .then(|| serde_json::from_slice(&body).ok())
            .flatten();
        let plan = match &json {
            Some(json) if emulating => match self.verdict(&operation, &parts.headers, json).await {
                Verdict::Answer(answer) => return Ok(answer),
                Verdict::Forward(plan) => plan,
            },
            _ => Plan::default(),
        };
        let forwarded_json = plan.body.clone().or(json);
        let mut forwarded = plan
            .body
            .as_ref()
            .map_or(body, |b| Bytes::from(b.to_string()));
        let mut renamed = None;
        let mut tracked = None;
        if let Some(request) = &forwarded_json {
            if let Some((rewritten, view, table)) =
                self.index_read(&operation, &parts.headers, request).await
            {
                forwarded = Bytes::from(rewritten.to_string());
                renamed = Some((view, table));
            } else {
                tracked = self.track_writes(&operation, &parts.headers, request).await;
            }
        }
        let answer = self
            .upstream
            .forward(&config.upstream, &parts, forwarded)
            .await;
        let answered = tokio::time::Instant::now();
        self.counters.forwarded(&operation);
        let mut answer = match answer {
            Ok(answer) => answer,
            Err(_) => {
                if let Some(ticket) = plan.ticket {
                    self.holds.release(ticket, Duration::ZERO);
                }
                // The service itself unreachable: to the client it is a
                // connection that fails, not an answer of DynamoDB's.
                return Err(Closed("upstream unreachable"));
            }
        };
        let succeeded = answer.parts.status.is_success();
        if let Some(tracked) = tracked {
            if succeeded {
                let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                self.record_writes(tracked, &json, &parts.headers, answered)
                    .await;
            }
        }
        if let Some((view, table)) = renamed {
            answer = answer.rename(&view, &table);
        }
        if succeeded {
            self.counters
                .answered(answers::reported(&operation, &answer.body));
        }
        if succeeded
            && matches!(
                operation.as_str(),
                "CreateTable" | "DeleteTable" | "UpdateTable"
            )
        {
            self.schemas
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            self.table_changed(
                &operation,
                &parts.headers,
                forwarded_json.as_ref().unwrap_or(&Value::Null),
            )
            .await;
        }
        if succeeded && lagging && operation == "ListTables" {
            answer = hide_views(answer);
        }
        let held = plan.ticket.is_some() && succeeded;
        let mut response = self.settle(plan, answer, &config);
        if let (true, Some(hold)) = (held, config.conflicts) {
            // The service answers a transaction when its commit phase ends:
            // the items are held until the answer, never past it, so one
            // client's next transaction never meets its own last one.
            tokio::time::sleep(hold).await;
        }
        if server_error == Some(When::AfterForwarding) {
            self.counters
                .update(|s| s.server_errors_after_forwarding += 1);
            response = wire::internal_server_error();
        }
        match self.faults.withhold_answer(&operation) {
            None => Ok(response),
            Some(delay) => {
                self.counters.update(|s| s.answers_withheld += 1);
                match delay {
                    Some(delay) => {
                        tokio::time::sleep(delay).await;
                        Ok(response)
                    }
                    None => Err(Closed("fault: answer withheld")),
                }
            }
        }
    }

    /// Releases the transaction's items, charges the read's real size and
    /// adds the batch's throttled items to the answer.
    fn settle(
        &self,
        plan: Plan,
        answer: upstream::Answer,
        config: &ProxyConfig,
    ) -> Response<Full<Bytes>> {
        let succeeded = answer.parts.status.is_success();
        if let Some(ticket) = plan.ticket {
            let hold = if succeeded {
                config.conflicts.unwrap_or_default()
            } else {
                Duration::ZERO
            };
            self.holds.release(ticket, hold);
        }
        if !succeeded || (plan.after.is_none() && plan.unprocessed.is_none()) {
            return answer.into_response();
        }
        let Ok(mut json) = serde_json::from_slice::<Value>(&answer.body) else {
            return answer.into_response();
        };
        if let (Some(after), Some(limits)) = (plan.after, config.throughput) {
            self.buckets.consume(&after(&json), &limits);
        }
        let Some((field, unprocessed)) = plan.unprocessed else {
            return answer.into_response();
        };
        let target = json[field].as_object_mut();
        let mut merged = target.cloned().unwrap_or_default();
        for (table, value) in unprocessed {
            match (merged.get_mut(&table), value) {
                (Some(Value::Array(list)), Value::Array(more)) => list.extend(more),
                (Some(Value::Object(spec)), Value::Object(more)) => {
                    if let (Some(Value::Array(keys)), Some(Value::Array(extra))) =
                        (spec.get_mut("Keys"), more.get("Keys"))
                    {
                        keys.extend(extra.iter().cloned());
                    }
                }
                (_, value) => {
                    merged.insert(table, value);
                }
            }
        }
        json[field] = Value::Object(merged);
        answer.with_body(&json)
    }

    /// `GET /_proxy/summary`, `POST /_proxy/faults`, `DELETE /_proxy/faults`.
    fn admin(&self, method: &Method, path: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let answer = |status: StatusCode, body: String| wire::json_response(status, body);
        match (method.as_str(), path) {
            ("GET", "/_proxy/summary") => answer(
                StatusCode::OK,
                serde_json::to_string(&self.counters.snapshot()).unwrap_or_default(),
            ),
            ("POST", "/_proxy/faults") => match serde_json::from_slice::<Fault>(body) {
                Ok(fault) => {
                    self.faults.inject(fault);
                    answer(StatusCode::OK, "{}".into())
                }
                Err(error) => answer(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"message": error.to_string()}).to_string(),
                ),
            },
            ("DELETE", "/_proxy/faults") => {
                self.faults.clear();
                answer(StatusCode::OK, "{}".into())
            }
            _ => answer(
                StatusCode::NOT_FOUND,
                r#"{"message":"no such proxy endpoint"}"#.into(),
            ),
        }
    }
}

/// A `ListTables` answer without the index views' tables.
fn hide_views(answer: upstream::Answer) -> upstream::Answer {
    let Ok(mut json) = serde_json::from_slice::<Value>(&answer.body) else {
        return answer;
    };
    let Some(names) = json["TableNames"].as_array_mut() else {
        return answer;
    };
    let before = names.len();
    names.retain(|name| !name.as_str().is_some_and(index_view::is_view));
    if names.len() == before {
        return answer;
    }
    answer.replace_body(&json)
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    shared: Arc<Shared>,
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts listening on `config.listen` and serving in the background.
    pub async fn start(config: ProxyConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let task = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Ok(Self {
            shared,
            address,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_DYNAMODB` or the SDK's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What it did so far.
    pub fn summary(&self) -> Summary {
        self.shared.counters.snapshot()
    }

    /// Starts the counts again from zero.
    pub fn reset_summary(&self) {
        self.shared.counters.update(|s| *s = Summary::default());
    }

    /// Waits until the index reads see every write answered before the
    /// call (at once when index lag is off): one lag after the last write,
    /// or longer while DynamoDB Local is slow to take the view's writes.
    /// For tests whose contract says a write shows in an index "after a
    /// moment".
    pub async fn index_settled(&self) {
        self.shared.views.settled().await;
    }

    /// Arms a fault for the next requests it names.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.inject(fault);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The configuration in force.
    pub fn config(&self) -> ProxyConfig {
        self.shared.config()
    }

    /// Changes the configuration (all but `listen`) for the next requests.
    /// Turning index lag on again makes the index views anew (they missed
    /// the writes made while it was off).
    pub fn set_config(&self, config: ProxyConfig) {
        self.shared.set_config(config);
    }
}

/// Accepts and serves connections, and gives the index views their writes,
/// until the task is aborted.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    tokio::select! {
        _ = accept(listener, Arc::clone(&shared)) => {}
        _ = shared.apply_to_views() => {}
    }
}

/// Accepts and serves connections.
async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // The connections belong to this task: aborting it (dropping the
    // `Proxy`) closes them too, so a stopped proxy serves nothing more.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                // Each request is handled in a task of its own, detached
                // from its connection: the service goes on with a request
                // whose caller gave up (an SDK attempt timeout closes the
                // connection) and applies it, its index writes included,
                // as DynamoDB does. Cancelled with the connection instead,
                // the write would reach DynamoDB Local but never the index
                // views, and the lagging index would lose it for good.
                let handling = tokio::spawn(Arc::clone(&shared).handle(request));
                async move {
                    handling
                        .await
                        .unwrap_or(Err(Closed("the request's handler panicked")))
                }
            });
            // A connection closed by a fault ends here with an error: expected.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

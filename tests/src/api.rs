//! The API under test ([`TestApi`]), its requests and answers, the local
//! server, the shared DynamoDB-faithful proxy and small helpers every test
//! file uses (see the crate's header).

use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::{Method, Request as HttpRequest};
use serde_json::Value;
use shared::domain::list_query::ListQuery;
use shared::domain::model::{Client, OrgId};
use shared::domain::position::Position;
use shared::function::Config;
use shared::store::admin::import::import_clients;
pub use shared::store::admin::import::sample_clients;
use shared::store::admin::keys::KeyAdmin;
use shared::store::admin::table::create_table;
use shared::store::listing::ListPage;
use shared::store::search_index;
use shared::store::usage::{self, Usage};
use shared::store::{counts, Table};
use shared::App;

/// How many times [`TestApi::send_until_answered`] repeats a request answered 503.
pub const UNAVAILABLE_REPEATS: u32 = 20;
/// The pause before each repeat (the API's `Retry-After` is 1 s; tests wait less).
pub const UNAVAILABLE_REPEAT_PAUSE: Duration = Duration::from_millis(200);

/// The table every test shares (each test in its own organization).
pub const TEST_TABLE: &str = "clients-test";

/// The variable that sends every [`TestApi`] of a test process through
/// the DynamoDB-faithful proxy (`tools/dynamodb-proxy --faithful`:
/// transaction conflicts, per-partition throughput, index propagation lag,
/// server errors, in-region latency): `faithful`. The `DYNAMODB_PROXY_*`
/// variables change its parts as they change the binary's (e.g.
/// `DYNAMODB_PROXY_INDEX_LAG_MS=0`, `DYNAMODB_PROXY_SERVER_ERROR_RATE=0`,
/// `DYNAMODB_PROXY_SEED=7`). `scripts/test`'s second pass runs tests with it.
pub const PROXY_VARIABLE: &str = "CLIENTS_TEST_PROXY";

/// The DynamoDB Local that `scripts/test` started.
pub fn dynamodb_local_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect(
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test, which starts DynamoDB Local",
    )
}

/// Connects to the DynamoDB Local that `scripts/test` started, through the
/// process's faithful proxy when [`PROXY_VARIABLE`] says so.
pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    let local = dynamodb_local_endpoint();
    match std::env::var(PROXY_VARIABLE).as_deref() {
        Ok("faithful") => shared::store::connect_to(Some(&shared_proxy_endpoint(&local))).await,
        Ok(other) => panic!("{PROXY_VARIABLE}={other:?}: the only mode is `faithful`"),
        Err(_) => shared::store::connect().await,
    }
}

/// Sends the handlers' log to the test's output, which the test harness
/// shows when the test fails: a request answered 5xx logs its cause chain
/// (`http::response`), which the answer itself never carries. Errors only,
/// unless `RUST_LOG` says otherwise. Logged from a thread other than the
/// test's own (a multi-threaded runtime's workers), it is printed as it comes.
fn log_to_test_output() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
        // Another subscriber already installed (a test's own) is kept.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .with_ansi(false)
            .try_init();
    });
}

/// The faithful proxy of the test process, once started.
static SHARED_PROXY: std::sync::OnceLock<dynamodb_proxy::Proxy> = std::sync::OnceLock::new();

/// One faithful proxy for the whole test process, in front of `upstream`,
/// serving on a thread and runtime of its own (each test has its own runtime).
fn shared_proxy_endpoint(upstream: &str) -> String {
    SHARED_PROXY
        .get_or_init(|| {
            let (sender, receiver) = std::sync::mpsc::channel();
            let config = dynamodb_proxy::cli::faithful_from_env(upstream)
                .unwrap_or_else(|e| panic!("the proxy's DYNAMODB_PROXY_* variables: {e}"));
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Runtime::new().expect("a runtime for the proxy");
                runtime.block_on(async move {
                    let proxy = dynamodb_proxy::Proxy::start(config)
                        .await
                        .expect("start the proxy");
                    sender.send(proxy).expect("hand the proxy over");
                    std::future::pending::<()>().await;
                });
            });
            receiver.recv().expect("the proxy")
        })
        .endpoint()
}

/// Waits until index reads (lists without `query`) see every write made
/// so far: the contract lets a new, changed or deleted client show there
/// only after a moment (`docs/data-model.md`, "Consistency"), and the
/// faithful proxy lags its indexes as the service does. At once without
/// the proxy (DynamoDB Local's indexes are read-your-writes). For a test's
/// arrange step, never to hide what the contract promises at once.
pub async fn index_settled() {
    if let Some(proxy) = SHARED_PROXY.get() {
        proxy.index_settled().await;
    }
}

/// A fresh organization id, unique across test processes and runs.
pub fn unique_org(prefix: &str) -> OrgId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", uuid::Uuid::now_v7().simple())
        .parse()
        .expect("a valid organization id")
}

/// The API wired to DynamoDB Local, plus the table for tests that look behind it.
pub struct TestApi {
    pub app: Arc<App>,
    pub table: Table,
}

/// The local server (`local-api`) serving [`TestApi`]'s app over real HTTP on
/// a free 127.0.0.1 port, until dropped.
pub struct LocalServer {
    /// `http://127.0.0.1:<port>/api/v1`
    pub base_url: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl LocalServer {
    /// The local server on a free 127.0.0.1 port, serving with `containers`.
    pub async fn start(containers: local_api::Containers) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let base_url = format!("http://{address}{}", local_api::BASE_PATH);
        let task = tokio::spawn(local_api::serve(listener, Arc::new(containers)));
        LocalServer { base_url, task }
    }

    /// Sends one HTTP/1.1 request (`path` under the base path, with its
    /// query) over a fresh connection and reads the whole answer.
    pub async fn request(&self, request: &TestRequest) -> TestResponse {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let authority = self
            .base_url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .expect("an authority");
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .expect("connect to the local server");
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
            request.method,
            request.uri,
            request.body.len()
        );
        for (name, value) in &request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .await
            .expect("send the head");
        stream
            .write_all(&request.body)
            .await
            .expect("send the body");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .expect("read the answer");
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole HTTP answer");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let mut headers = lambda_http::http::HeaderMap::new();
        for (name, value) in lines.filter_map(|line| line.split_once(':')) {
            headers.append(
                lambda_http::http::HeaderName::try_from(name.trim()).expect("a header name"),
                value.trim().parse().expect("a header value"),
            );
        }
        TestResponse {
            status,
            headers,
            body: serde_json::from_str(body).unwrap_or(Value::Null),
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An organization with an API key.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub org: OrgId,
    pub key: String,
}

impl TestApi {
    /// The API with key caching off, so revocations show at once.
    pub async fn start() -> Self {
        Self::with_key_cache(Duration::ZERO).await
    }

    /// The API as the SAM template deploys it for rate limits: the
    /// organizations without a plan of their own on `standard` (its
    /// `DefaultPlan`'s default), as `sam local` runs the functions. Every
    /// container leasing from an organization's limit item must agree on
    /// its limits: one that took the generous `local` plan for the default
    /// would ask slices of the `standard` pool sized for `local`'s.
    pub async fn as_deployed() -> Self {
        let config = Config {
            default_plan: shared::domain::plan::PlanName::Standard,
            ..keys_cached_for(Duration::ZERO)
        };
        Self::with_dynamodb(dynamodb().await, &config).await
    }

    /// The API with key look-ups cached for `ttl`.
    pub async fn with_key_cache(ttl: Duration) -> Self {
        Self::with_dynamodb(dynamodb().await, &keys_cached_for(ttl)).await
    }

    /// The API through a transparent proxy of the caller's own (every
    /// call counted, faults on demand), key look-ups cached for a minute
    /// so that the calls a test counts or faults are its requests' own.
    pub async fn through_counting_proxy() -> (dynamodb_proxy::Proxy, Self) {
        Self::through_proxy(
            dynamodb_proxy::ProxyConfig::transparent(dynamodb_local_endpoint()),
            &keys_cached_for(Duration::from_secs(60)),
        )
        .await
    }

    /// The API through a DynamoDB-faithful proxy of the caller's own,
    /// started with `proxy` (in front of DynamoDB Local), with `config`.
    pub async fn through_proxy(
        proxy: dynamodb_proxy::ProxyConfig,
        config: &Config,
    ) -> (dynamodb_proxy::Proxy, Self) {
        let proxy = dynamodb_proxy::Proxy::start(proxy)
            .await
            .expect("start the proxy");
        let client = shared::store::connect_to(Some(&proxy.endpoint())).await;
        let api = Self::with_dynamodb(client, config).await;
        (proxy, api)
    }

    /// The API on `client` (e.g. one that goes through a proxy) with
    /// `config`; creates the configured table if it is missing.
    pub async fn with_dynamodb(client: aws_sdk_dynamodb::Client, config: &Config) -> Self {
        log_to_test_output();
        let table = Table::new(client.clone(), &config.table_name);
        create_table(&table).await.expect("create the test table");
        Self {
            app: Arc::new(App::new(client, config)),
            table,
        }
    }

    pub fn keys(&self) -> KeyAdmin {
        KeyAdmin::new(self.table.clone())
    }

    /// A new organization and an API key for it.
    pub async fn tenant(&self) -> Tenant {
        let org = unique_org("t");
        let (key, _) = self
            .keys()
            .create_key(&org, "test")
            .await
            .expect("create key");
        Tenant { org, key: key.key }
    }

    /// Serves this app over HTTP with the local server, as `scripts/run-local`
    /// does, but with no container limit (every request at once).
    pub async fn serve_http(&self) -> LocalServer {
        let containers = local_api::Containers::Unlimited(Arc::clone(&self.app));
        LocalServer::start(containers).await
    }

    /// Sends a request as API Gateway would ([`TestRequest::gateway_event`])
    /// and returns the handler's answer, observed as the Lambda wiring
    /// observes it (its closing log line, and the rate limiter's charge and
    /// `RateLimit` fields).
    pub async fn send(&self, request: TestRequest) -> TestResponse {
        send_to(&self.app, request).await
    }

    pub async fn get(&self, tenant: &Tenant, uri: &str) -> TestResponse {
        self.send(TestRequest::new(Method::GET, uri).key(&tenant.key))
            .await
    }

    pub async fn delete(&self, tenant: &Tenant, uri: &str) -> TestResponse {
        self.send(TestRequest::new(Method::DELETE, uri).key(&tenant.key))
            .await
    }

    pub async fn post(&self, tenant: &Tenant, uri: &str, body: &Value) -> TestResponse {
        self.send(
            TestRequest::new(Method::POST, uri)
                .key(&tenant.key)
                .json(body),
        )
        .await
    }

    pub async fn patch(&self, tenant: &Tenant, uri: &str, body: &Value) -> TestResponse {
        self.send(
            TestRequest::new(Method::PATCH, uri)
                .key(&tenant.key)
                .json(body),
        )
        .await
    }

    /// Creates a client through the API and returns its JSON.
    ///
    /// As the docs page tells a client to: with an `Idempotency-Key`, and a
    /// 503 (above capacity, e.g. the faithful proxy's bursts on a slow
    /// machine) repeated with the same key until it is answered; the answer
    /// in the end must be 201.
    pub async fn create(&self, tenant: &Tenant, body: Value) -> Value {
        let response = self.create_until_answered(tenant, &body).await;
        assert_eq!(response.status, 201, "create {body}: {}", response.body);
        response.body["data"].clone()
    }

    /// Sends a create with a fresh `Idempotency-Key` through
    /// [`Self::send_until_answered`] and returns the last answer.
    pub async fn create_until_answered(&self, tenant: &Tenant, body: &Value) -> TestResponse {
        let key = format!("test-create-{}", uuid::Uuid::now_v7());
        self.send_until_answered(TestRequest::keyed_create(&tenant.key, &key, body))
            .await
    }

    /// Sends a request, repeating it unchanged while the answer is 503 (at
    /// most [`UNAVAILABLE_REPEATS`] times, [`UNAVAILABLE_REPEAT_PAUSE`]
    /// apart), as the docs page tells a client to, and returns the last
    /// answer. A create must carry an `Idempotency-Key` for its repeats to
    /// be safe ([`TestRequest::keyed_create`]); an update or delete is safe
    /// to repeat as it is (a repeated delete whose first try was applied
    /// is answered 404).
    pub async fn send_until_answered(&self, request: TestRequest) -> TestResponse {
        let mut response = self.send(request.clone()).await;
        for _ in 0..UNAVAILABLE_REPEATS {
            if response.status != 503 {
                break;
            }
            tokio::time::sleep(UNAVAILABLE_REPEAT_PAUSE).await;
            response = self.send(request.clone()).await;
        }
        response
    }

    /// Lists with a query string and returns the whole body.
    pub async fn list(&self, tenant: &Tenant, query: &str) -> Value {
        let response = self.get(tenant, &format!("/api/v1/clients?{query}")).await;
        assert_eq!(response.status, 200, "list ?{query}: {}", response.body);
        response.body
    }

    /// A first list page straight from the store, with what it cost.
    pub async fn page(&self, org: &OrgId, query: &ListQuery) -> (ListPage, Usage) {
        self.page_after(org, query, None).await
    }

    /// A list page straight from the store, after `after` (a cursor's
    /// position) if given, with what it cost as the product counts it (the
    /// figures of a request's closing log line), less the SDK's retries of
    /// attempts DynamoDB failed ([`Usage::first_attempts`]: through the
    /// faithful proxy a 500 now and then is one more call, not more work
    /// of the list's).
    pub async fn page_after(
        &self,
        org: &OrgId,
        query: &ListQuery,
        after: Option<&Position>,
    ) -> (ListPage, Usage) {
        let (page, usage) = usage::measure(self.app.clients.list(org, query, after)).await;
        (page.expect("a list page"), usage.first_attempts())
    }

    /// Counts an organization's client items per status `(active, inactive)`
    /// straight from the table (strongly consistent queries of its
    /// partition), independently of the API and its counts.
    pub async fn recount(&self, org: &OrgId) -> (u64, u64) {
        let counts = counts::recount(&self.table, org)
            .await
            .expect("recount the organization's client items");
        (counts.active, counts.inactive)
    }

    /// Writes clients straight into the table (bulk import, with the
    /// organization's counts): fast seeding for large lists.
    pub async fn seed(&self, org: &OrgId, clients: &[Client]) {
        import_clients(&self.table, org, clients, 4)
            .await
            .expect("import the clients");
        // An arrange step: the seeded clients are in the list indexes before the act.
        index_settled().await;
    }

    /// Like [`Self::seed`] but without search index entries: clients as
    /// stored before the index existed.
    pub async fn seed_without_search_index(&self, org: &OrgId, clients: &[Client]) {
        self.seed(org, clients).await;
        let entries: Vec<_> = clients
            .iter()
            .flat_map(|client| search_index::entries(org, client))
            .collect();
        search_index::delete(&self.table, &entries)
            .await
            .expect("delete the clients' search index entries");
        index_settled().await;
    }
}

/// Sends a request to `app` (one container) as [`TestApi::send`] does.
pub async fn send_to(app: &App, request: TestRequest) -> TestResponse {
    let (function, event) = request.gateway_event();
    let lambda_request =
        lambda_http::request::from_str(&event.to_string()).expect("a valid gateway event");
    let response = app
        .observer
        .serve(lambda_request, |request| {
            local_api::invoke(app, function, request)
        })
        .await;
    TestResponse::from_lambda(response)
}

/// The test table's configuration with key look-ups cached for `ttl`.
pub fn keys_cached_for(ttl: Duration) -> Config {
    Config {
        key_cache_ttl: ttl,
        ..Config::for_table(TEST_TABLE)
    }
}

/// A request to send through [`TestApi::send`].
#[derive(Clone, Debug)]
pub struct TestRequest {
    pub method: Method,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestRequest {
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `POST /api/v1/clients` with `body`, authorized by `api_key` and
    /// carrying `Idempotency-Key: idempotency_key`.
    pub fn keyed_create(api_key: &str, idempotency_key: &str, body: &Value) -> Self {
        Self::new(Method::POST, "/api/v1/clients")
            .key(api_key)
            .header("idempotency-key", idempotency_key)
            .json(body)
    }

    pub fn key(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .raw_body(body.to_string().into_bytes())
    }

    pub fn raw_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The route's function and the HTTP API (payload 2.0) event API
    /// Gateway would send it for this request, built by the local server's
    /// code. The query string goes into the event's `rawQueryString` as API
    /// Gateway sends it, so it may be longer than an `http::Uri` allows.
    pub fn gateway_event(&self) -> (local_api::Function, Value) {
        let (path, query) = self.uri.split_once('?').unwrap_or((&self.uri, ""));
        let mut builder = HttpRequest::builder().method(self.method.clone()).uri(path);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let (parts, ()) = builder.body(()).expect("a valid test request").into_parts();
        let Some(route) = local_api::route(&parts.method, parts.uri.path()) else {
            panic!("no route for {} {}", self.method, self.uri);
        };
        let mut event = local_api::gateway_event(&parts, &self.body, &route, "test-request-id");
        event["rawQueryString"] = Value::String(query.to_owned());
        (route.function, event)
    }
}

/// A handler's answer, with its body parsed as JSON (every answer must be JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl TestResponse {
    fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> Self {
        let (parts, body) = response.into_parts();
        assert_eq!(
            parts.headers["content-type"], "application/json",
            "every answer is JSON"
        );
        assert!(
            parts.headers.contains_key("x-request-id"),
            "every answer has X-Request-Id"
        );
        let body: Value = serde_json::from_slice(body.as_ref()).expect("every answer body is JSON");
        Self {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error.code` of an error answer.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The fields named in `error.details`.
    pub fn error_fields(&self) -> Vec<&str> {
        self.body["error"]["details"]
            .as_array()
            .map(|details| details.iter().filter_map(|d| d["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

/// The contract's order, computed independently of the store.
pub fn expected_order(clients: &[Value], sort_by: &str, descending: bool) -> Vec<String> {
    let mut sorted = clients.to_vec();
    sorted.sort_by(|a, b| {
        let by_field = match sort_by {
            "name" => a["name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .cmp(&b["name"].as_str().unwrap().to_lowercase()),
            "phone" => match (a["phone"].as_str(), b["phone"].as_str()) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => CmpOrdering::Less,
                (None, Some(_)) => CmpOrdering::Greater,
                (None, None) => CmpOrdering::Equal,
            },
            "status" => a["status"].as_str().cmp(&b["status"].as_str()),
            "createdAt" => a["createdAt"].as_str().cmp(&b["createdAt"].as_str()),
            other => panic!("unknown sort field {other}"),
        };
        let ordering = by_field.then(a["id"].as_str().cmp(&b["id"].as_str()));
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    });
    sorted
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids of a list answer's `data`, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data is an array")
        .iter()
        .map(|client| client["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The URI of a client, from its JSON (a create's `data`).
pub fn client_uri(client: &Value) -> String {
    format!("/api/v1/clients/{}", client["id"].as_str().expect("an id"))
}

/// Runs futures concurrently on this task (no extra crate needed).
pub async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, future) in outputs.iter_mut().zip(set.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *slot = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

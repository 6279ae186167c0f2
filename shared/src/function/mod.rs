//! What a Lambda function builds once per container, and the one `main`
//! every function runs: [`run`] (for the client routes, with the table) and
//! [`run_without_table`] (for `get-openapi`).
//!
//! A function's `main.rs` is one call naming its handler:
//!
//! ```no_run
//! # async fn handle(_: &shared::App, _: lambda_http::Request) -> lambda_http::Response<lambda_http::Body> { unimplemented!() }
//! fn main() -> Result<(), lambda_http::Error> {
//!     shared::function::run(handle)
//! }
//! ```

pub mod config;

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::{service_fn, Body, Error, Request, Response};

pub use config::{Config, ConfigError};

use crate::domain::model::OrgId;
use crate::domain::share::Spending;
use crate::http::auth::Authenticator;
use crate::http::limiter::{Clock, Limiter};
use crate::http::observe::Observer;
use crate::http::ApiError;
use crate::store::clients::ClientStore;
use crate::store::keys::KeyStore;
use crate::store::limits::LimitStore;
use crate::store::table::Table;

/// The longest [`App::warm_up`] may add to a function's init.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(1);

/// What every handler borrows: the client store, the authenticator and the
/// rate limiter, over one DynamoDB client, and the observer of each request.
pub struct App {
    /// The organizations' clients.
    pub clients: ClientStore,
    /// API key look-ups, cached.
    pub auth: Authenticator,
    /// The per-organization rate limiter (`None` with `RATE_LIMITS=off`).
    pub limiter: Option<Limiter>,
    /// Each request's log span, closing line and metrics.
    pub observer: Observer,
}

impl App {
    /// Reads the configuration and builds the DynamoDB client: call once, in `main`.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let dynamodb = crate::store::connect().await;
        Ok(Self::new(dynamodb, &config))
    }

    /// The stores over `dynamodb` and the configured table.
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, config: &Config) -> Self {
        Self::with_clock(dynamodb, config, Clock::default())
    }

    /// [`App::new`] with the rate limiter reading `clock` (tests skew it).
    pub fn with_clock(dynamodb: aws_sdk_dynamodb::Client, config: &Config, clock: Clock) -> Self {
        let table = Table::new(dynamodb, &config.table_name);
        let limiter = config
            .rate_limits
            .then(|| Limiter::new(LimitStore::new(table.clone()), config.default_plan, clock));
        Self {
            clients: ClientStore::with_count_shards(table.clone(), config.count_shards),
            limiter,
            auth: Authenticator::new(KeyStore::new(table), config.key_cache_ttl),
            observer: Observer::new(config.metrics_namespace.clone()),
        }
    }

    /// Opens the DynamoDB connection during init, so that the first request
    /// does not pay for it ([`KeyStore::warm_up`]). It never fails init: an
    /// error or a timeout ([`WARM_UP_TIMEOUT`]) is logged at debug and the
    /// first request connects instead.
    pub async fn warm_up(&self) {
        let started = Instant::now();
        match tokio::time::timeout(WARM_UP_TIMEOUT, self.auth.keys().warm_up()).await {
            Ok(Ok(())) => tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "DynamoDB connection warmed up"
            ),
            Ok(Err(error)) => tracing::debug!(
                error = %crate::http::error::cause_chain(&error),
                "DynamoDB warm-up failed; ignored"
            ),
            Err(_) => tracing::debug!(
                timeout_ms = WARM_UP_TIMEOUT.as_millis() as u64,
                "DynamoDB warm-up timed out; ignored"
            ),
        }
    }

    /// The organization of the request's API key, or 401; then the rate
    /// limiter's decision, or 429 (before the request touches client data):
    /// a `GET` is held back by the requests and read-unit budgets, a write
    /// by every budget.
    pub async fn authenticate(&self, request: &Request) -> Result<OrgId, ApiError> {
        let org = self
            .auth
            .organization(crate::http::authorization(request))
            .await?;
        if let Some(limiter) = &self.limiter {
            let spending = if request.method().is_safe() {
                Spending::Reads
            } else {
                Spending::Writes
            };
            limiter.admit(&org, spending).await?;
        }
        Ok(org)
    }
}

/// The `main` of a function of the client routes: tracing, configuration
/// from the environment, the DynamoDB client and its warm-up, once; then
/// Lambda's runtime loop, calling `handler` for each event, observed (its
/// log span, closing line and metrics: [`Observer::serve`]). The [`App`]
/// lives as long as the process (the container), so it is leaked once to
/// lend it to every invocation.
pub fn run<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static App, Request) -> Fut + Sync,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    tokio_runtime()?.block_on(async {
        lambda_http::tracing::init_default_subscriber();
        let app = App::from_env()
            .await
            .map_err(|error| format!("configuration: {error}"))?;
        app.warm_up().await;
        let app: &'static App = Box::leak(Box::new(app));
        lambda_http::run(service_fn(|request| {
            let response = app.observer.serve(request, |request| handler(app, request));
            async move { Ok::<_, Infallible>(response.await) }
        }))
        .await
    })
}

/// The `main` of a function that needs no table: tracing, then Lambda's
/// runtime loop calling `handler` for each event, observed (metrics when
/// `METRICS_NAMESPACE` is set).
pub fn run_without_table<F>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Response<Body> + Sync,
{
    tokio_runtime()?.block_on(async {
        lambda_http::tracing::init_default_subscriber();
        let namespace = config::metrics_namespace(|name| std::env::var(name).ok());
        let observer: &'static Observer = Box::leak(Box::new(Observer::new(namespace)));
        lambda_http::run(service_fn(|request| {
            let response = observer.serve(request, |request| std::future::ready(handler(request)));
            async move { Ok::<_, Infallible>(response.await) }
        }))
        .await
    })
}

/// The runtime `#[tokio::main]` would build: multi-threaded, I/O and timers on.
fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

//! One request, observed from its arrival to its answer: the tracing span
//! that every log line of the request carries (`request_id`, `route`, and
//! `organization` once the key is accepted; never the key), the closing
//! `request served` line (status, latency, and what DynamoDB did for the
//! request: calls, items read, read and write units, counted by
//! [`crate::store::usage`]; the only line that carries them), and its
//! metrics ([`super::metrics`]).
//!
//! [`Observer::serve`] wraps a handler; the Lambda wiring
//! (`function::run`) and the local server both use it.

use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use super::limiter;
use super::metrics::RequestMetrics;
use super::request::request_id;
use super::routes::BASE_PATH;
use crate::domain::model::OrgId;
use crate::store::usage;

tokio::task_local! {
    static ORGANIZATION: Mutex<Option<OrgId>>;
}

/// Records the organization of the request being served, once its key is
/// accepted: in its log span and its metrics.
pub fn organization_known(org: &OrgId) {
    tracing::Span::current().record("organization", org.as_str());
    let _ = ORGANIZATION.try_with(|cell| {
        *cell.lock().unwrap_or_else(|e| e.into_inner()) = Some(org.clone());
    });
}

/// The route of a request: API Gateway's route key without the base path,
/// e.g. `GET /clients/{id}` (bounded: one per route the API declares;
/// the base path, [`BASE_PATH`], left out).
pub fn route(request: &Request) -> String {
    let key = request
        .request_context_ref()
        .and_then(|context| match context {
            RequestContext::ApiGatewayV2(context) => context.route_key.clone(),
            #[allow(unreachable_patterns)]
            _ => None,
        })
        .unwrap_or_default();
    match key.split_once(' ') {
        Some((method, path)) => {
            let path = path.strip_prefix(BASE_PATH).unwrap_or(path);
            format!("{method} {path}")
        }
        None if key.is_empty() => "unknown".to_owned(),
        None => key,
    }
}

/// Observes requests; emits EMF metrics when it has a namespace.
#[derive(Debug, Clone, Default)]
pub struct Observer {
    namespace: Option<String>,
}

impl Observer {
    /// Metrics go to `namespace`; `None` logs without metrics (local runs).
    pub fn new(namespace: Option<String>) -> Self {
        Self { namespace }
    }

    /// Serves `request` with `handler` inside the request's span, then logs
    /// the closing line and emits the metrics.
    pub async fn serve<F, Fut>(&self, request: Request, handler: F) -> Response<Body>
    where
        F: FnOnce(Request) -> Fut,
        Fut: Future<Output = Response<Body>>,
    {
        let (response, metrics, span) = measured(request, handler).await;
        span.in_scope(|| {
            tracing::info!(
                status = metrics.status,
                latency_ms = metrics.latency.as_secs_f64() * 1e3,
                dynamodb_calls = metrics.usage.calls,
                dynamodb_retries = metrics.usage.retries,
                items_read = metrics.usage.items_read,
                read_units = metrics.usage.read_units,
                write_units = metrics.usage.write_units,
                "request served"
            )
        });
        if let Some(namespace) = &self.namespace {
            metrics.emit(namespace);
        }
        response
    }
}

/// Runs the handler in the request's span, measuring it.
async fn measured<F, Fut>(
    request: Request,
    handler: F,
) -> (Response<Body>, RequestMetrics, tracing::Span)
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let started = Instant::now();
    let request_id = request_id(&request);
    let route = route(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        route = %route,
        organization = tracing::field::Empty,
    );
    // Boxed: a handler's future is large, and debug builds serve from
    // small thread stacks (the tests' local server).
    let work = usage::measure(Box::pin(handler(request).instrument(span.clone())));
    let (((mut response, usage), ticket), organization) = ORGANIZATION
        .scope(Mutex::new(None), async {
            let outcome = limiter::scoped(work).await;
            let org = ORGANIZATION.with(|cell| cell.lock().ok().and_then(|o| o.clone()));
            (outcome, org)
        })
        .await;
    // The limiter charges what the request consumed and writes its fields.
    if let Some(ticket) = ticket {
        for (name, value) in ticket.settle(usage.read_units, usage.write_units) {
            if let Ok(value) = lambda_http::http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    let metrics = RequestMetrics {
        route,
        organization,
        status: response.status().as_u16(),
        latency: started.elapsed(),
        usage,
        request_id,
    };
    (response, metrics, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_route_key(route_key: Option<&str>) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": route_key.unwrap_or("$default"),
            "rawPath": "/api/v1/clients/x",
            "rawQueryString": "",
            "headers": {},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "localhost",
                "domainPrefix": "localhost", "http": {"method": "GET", "path": "/api/v1/clients/x",
                "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                "requestId": "req", "routeKey": route_key.unwrap_or("$default"), "stage": "$default",
                "time": "28/Nov/2026:10:00:00 +0000", "timeEpoch": 0
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn routes_are_the_gateway_route_keys_without_the_base_path() {
        assert_eq!(
            route(&request_with_route_key(Some("GET /api/v1/clients/{id}"))),
            "GET /clients/{id}"
        );
        assert_eq!(route(&request_with_route_key(None)), "$default");
    }

    #[tokio::test]
    async fn the_organization_known_inside_the_handler_reaches_the_metrics() {
        let request = request_with_route_key(Some("GET /api/v1/clients"));

        let (response, metrics, _) = measured(request, |_| async {
            organization_known(&"acme".parse().unwrap());
            Response::builder().status(204).body(Body::Empty).unwrap()
        })
        .await;

        assert_eq!(response.status(), 204);
        assert_eq!(metrics.status, 204);
        assert_eq!(metrics.route, "GET /clients");
        assert_eq!(metrics.organization, Some("acme".parse().unwrap()));
        assert_eq!(metrics.request_id, "req");
        assert_eq!(metrics.usage, usage::Usage::default());
    }
}

//! A local stand-in for API Gateway (HTTP API, payload format 2.0).
//!
//! Each HTTP request is matched against the API's routes, turned into the
//! same event JSON API Gateway sends a Lambda function, parsed by
//! `lambda_http` exactly as in Lambda, and handed to that route's function
//! handler. The routes are `shared::http::routes::ROUTES`, re-exported
//! here with [`Function`] and [`BASE_PATH`]. Unknown routes and methods
//! answer 404 `not_found` in the API's JSON error shape. Requests are
//! served by a fixed number of function containers ([`containers`]), as
//! Lambda serves them.

pub mod containers;

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use shared::store::outcome::WriteOutcome;
use shared::{ApiError, App};
use tokio::net::TcpListener;

pub use containers::Containers;
pub use shared::http::routes::{Function, BASE_PATH, ROUTES};

/// Bodies larger than this are refused before they reach a handler
/// (API Gateway's own limit is 10 MB; the API's is 64 KiB).
const MAX_GATEWAY_BODY: usize = 1024 * 1024;

/// A matched route: the function, the route key and the `{id}` path parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub function: Function,
    pub route_key: &'static str,
    pub id: Option<String>,
}

/// Matches a method and raw path the way API Gateway matches the API's
/// routes ([`shared::http::routes::find`]); the `{id}` segment is
/// percent-decoded as API Gateway decodes path parameters.
pub fn route(method: &Method, raw_path: &str) -> Option<Route> {
    let (route, id) = shared::http::routes::find(method.as_str(), raw_path)?;
    Some(Route {
        function: route.function,
        route_key: route.key,
        id: id.map(percent_decode),
    })
}

/// Decodes `%XX` escapes; invalid escapes are kept as they are, and so is
/// the whole segment when the decoded bytes are not UTF-8.
fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map_or_else(|_| segment.to_owned(), |decoded| decoded.into_owned())
}

/// The API Gateway HTTP API (payload 2.0) event for a request.
pub fn gateway_event(
    parts: &hyper::http::request::Parts,
    body: &[u8],
    route: &Route,
    request_id: &str,
) -> Value {
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<String> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    let now = chrono::Utc::now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if let Some(id) = &route.id {
        event["pathParameters"] = json!({ "id": id });
    }
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event["body"] = Value::String(text.to_owned()),
            Err(_) => {
                event["body"] =
                    Value::String(base64::engine::general_purpose::STANDARD.encode(body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
    }
    event
}

/// Runs a request through the function handler its route names.
pub async fn invoke(
    app: &App,
    function: Function,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    match function {
        Function::ListClients => list_clients::handle(app, request).await,
        Function::GetClient => get_client::handle(app, request).await,
        Function::CreateClient => create_client::handle(app, request).await,
        Function::UpdateClient => update_client::handle(app, request).await,
        Function::DeleteClient => delete_client::handle(app, request).await,
        Function::GetOpenApi => get_openapi::handle(request),
    }
}

/// Answers one HTTP request as API Gateway plus the Lambda function would,
/// in a free container; 503 (nothing was changed) when none is free in time.
pub async fn serve_request(
    containers: &Containers,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let (parts, body) = request.into_parts();
    let Some(route) = route(&parts.method, parts.uri.path()) else {
        return error_response(&ApiError::NoRoute, &request_id);
    };
    let body = match Limited::new(body, MAX_GATEWAY_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return error_response(&ApiError::PayloadTooLarge, &request_id),
    };
    let event = gateway_event(&parts, &body, &route, &request_id);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(%error, "could not build the gateway event");
            return error_response(&ApiError::internal(error), &request_id);
        }
    };
    let Some(app) = containers.lend().await else {
        let waited = containers.wait().as_millis();
        tracing::warn!(
            route = route.route_key,
            waited_ms = waited as u64,
            "no container free: request refused"
        );
        let busy = ApiError::Unavailable {
            outcome: WriteOutcome::NotApplied,
            cause: format!("no function container became free within {waited} ms").into(),
        };
        return error_response(&busy, &request_id);
    };
    let response = app
        .observer
        .serve(request, |request| invoke(&app, route.function, request))
        .await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Full::new(Bytes::copy_from_slice(body.as_ref())))
}

fn error_response(error: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    let response = shared::http::error_response(error, request_id);
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Full::new(Bytes::copy_from_slice(body.as_ref())))
}

/// Serves HTTP/1.1 on the listener until the task is dropped.
pub async fn serve(listener: TcpListener, containers: Arc<Containers>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let containers = Arc::clone(&containers);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let containers = Arc::clone(&containers);
                // Detached from the connection, as Lambda runs an invocation
                // to its end when the caller goes away: a write whose client
                // hung up still finishes (its search entries included)
                // instead of being cut off between two DynamoDB calls.
                let serving =
                    tokio::spawn(async move { serve_request(&containers, request).await });
                async move {
                    Ok::<_, Infallible>(serving.await.unwrap_or_else(|_| {
                        error_response(
                            &ApiError::internal("the request's handler panicked"),
                            "local-api",
                        )
                    }))
                }
            });
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_like_the_gateway() {
        let id = "0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a";

        assert_eq!(
            route(&Method::GET, "/api/v1/clients").unwrap().function,
            Function::ListClients
        );
        assert_eq!(
            route(&Method::POST, "/api/v1/clients").unwrap().function,
            Function::CreateClient
        );
        let get = route(&Method::GET, &format!("/api/v1/clients/{id}")).unwrap();
        assert_eq!(
            (get.function, get.id.as_deref()),
            (Function::GetClient, Some(id))
        );
        assert_eq!(
            route(&Method::PATCH, "/api/v1/clients/x").unwrap().function,
            Function::UpdateClient
        );
        assert_eq!(
            route(&Method::DELETE, "/api/v1/clients/x")
                .unwrap()
                .function,
            Function::DeleteClient
        );
    }

    #[test]
    fn the_docs_page_is_served_by_the_openapi_function() {
        let docs = route(&Method::GET, "/api/v1/docs").unwrap();

        assert_eq!(docs.function, Function::GetOpenApi);
        assert_eq!(docs.route_key, "GET /api/v1/docs");
        assert_eq!(route(&Method::POST, "/api/v1/docs"), None);
        assert_eq!(route(&Method::GET, "/api/v1/docs/x"), None);
    }

    #[test]
    fn unknown_routes_and_methods_do_not_match() {
        assert_eq!(route(&Method::PUT, "/api/v1/clients/x"), None);
        assert_eq!(route(&Method::DELETE, "/api/v1/clients"), None);
        assert_eq!(route(&Method::GET, "/api/v1/clients/"), None);
        assert_eq!(route(&Method::GET, "/api/v1/clients/a/b"), None);
        assert_eq!(route(&Method::GET, "/api/v1/clientsx"), None);
        assert_eq!(route(&Method::GET, "/"), None);
        assert_eq!(route(&Method::POST, "/api/v1/openapi.json"), None);
        assert_eq!(route(&Method::GET, "/api/v1/openapi.yaml"), None);
        assert_eq!(
            route(&Method::GET, "/api/v1/clients/openapi.json")
                .unwrap()
                .function,
            Function::GetClient
        );
    }

    #[test]
    fn path_ids_are_percent_decoded() {
        assert_eq!(
            route(&Method::GET, "/api/v1/clients/a%2Fb")
                .unwrap()
                .id
                .as_deref(),
            Some("a/b")
        );
        assert_eq!(
            route(&Method::GET, "/api/v1/clients/%zz")
                .unwrap()
                .id
                .as_deref(),
            Some("%zz")
        );
        assert_eq!(
            route(&Method::GET, "/api/v1/clients/%")
                .unwrap()
                .id
                .as_deref(),
            Some("%")
        );
    }
}

//! Requests as API Gateway delivers them ([`prepare`]), sent through the
//! functions' handlers as the Lambda functions would run them ([`send`]).

use lambda_http::http::{Method, Request as HttpRequest};
use local_api::Function;
use serde_json::Value;
use shared::App;

/// A request as API Gateway delivers it: the route's function and the event's JSON.
#[derive(Clone)]
pub struct Prepared {
    pub function: Function,
    pub event: String,
}

pub fn prepare(method: Method, uri: &str, key: &str, body: Option<&Value>) -> Prepared {
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

/// A `GET` of `uri` with `key`.
pub fn get(uri: &str, key: &str) -> Prepared {
    prepare(Method::GET, uri, key, None)
}

/// Runs a request through its handler as the Lambda function would (the
/// event parsed by lambda_http, the response body serialized).
pub async fn send(app: &App, request: &Prepared) -> (u16, Value) {
    let lambda_request =
        lambda_http::request::from_str(&request.event).expect("a valid gateway event");
    let response = local_api::invoke(app, request.function, lambda_request).await;
    let (parts, body) = response.into_parts();
    let body: Value = serde_json::from_slice(body.as_ref()).unwrap_or(Value::Null);
    (parts.status.as_u16(), body)
}

/// [`send`], asserting the answer's status is `expected`; the answer's body.
pub async fn send_ok(app: &App, request: &Prepared, expected: u16, what: &str) -> Value {
    let (status, body) = send(app, request).await;
    assert_eq!(status, expected, "{what}: {body}");
    body
}

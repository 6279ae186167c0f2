//! Writing a response: the success envelope, error bodies, the headers
//! every answer carries, and the log line of every failure.

use lambda_http::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use super::error::{cause_chain, ApiError};
use super::request::request_id;
use crate::domain::model::Client;

/// The header that carries the request id on every answer.
pub const X_REQUEST_ID: &str = "x-request-id";

/// A successful answer: status, JSON body and extra headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Headers besides `Content-Type` and `X-Request-Id`.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A reply with no extra header.
    pub fn new(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// `{"data": client}` with the client's `ETag`.
    pub fn client(status: u16, client: &Client) -> Self {
        Self::new(status, serde_json::json!({ "data": client.to_json() }))
            .with_header("etag", etag(client))
    }

    /// The reply with one more header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The entity tag of a client's current version.
pub fn etag(client: &Client) -> String {
    format!("\"{}\"", client.version)
}

/// Turns a handler's outcome into the response, logging what went wrong.
pub fn respond(request: &Request, outcome: Result<Reply, ApiError>) -> Response<Body> {
    let request_id = request_id(request);
    match outcome {
        Ok(reply) => json_response(reply.status, &reply.body, &request_id, &reply.headers),
        Err(error) => {
            log_error(request, &request_id, &error);
            error_response(&error, &request_id)
        }
    }
}

/// The answer to an error: its status and body, `WWW-Authenticate` for a
/// 401 and `Retry-After` for a 503.
pub fn error_response(error: &ApiError, request_id: &str) -> Response<Body> {
    let mut headers = Vec::new();
    if matches!(error, ApiError::Unauthorized) {
        headers.push(("www-authenticate", "Bearer".to_owned()));
    }
    if let Some(retry_after) = error.retry_after() {
        headers.push(("retry-after", retry_after.as_secs().max(1).to_string()));
    }
    json_response(error.status(), &error.body(), request_id, &headers)
}

/// A JSON response with the request id; the one place responses are built.
pub fn json_response(
    status: u16,
    body: &Value,
    request_id: &str,
    headers: &[(&'static str, String)],
) -> Response<Body> {
    let mut response = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(X_REQUEST_ID, header_value(request_id));
    for (name, value) in headers {
        response = response.header(HeaderName::from_static(name), header_value(value));
    }
    response
        .body(Body::Text(body.to_string()))
        .expect("status and headers are valid by construction")
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn log_error(request: &Request, request_id: &str, error: &ApiError) {
    let method = request.method().as_str();
    let path = request.raw_http_path();
    if error.is_server_error() {
        tracing::error!(request_id, method, path, status = error.status(), code = error.code(), cause = %cause_chain(error), "request failed");
    } else {
        tracing::info!(
            request_id,
            method,
            path,
            status = error.status(),
            code = error.code(),
            "request refused"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        lambda_http::http::Request::builder()
            .method("GET")
            .uri("/api/v1/clients")
            .body(Body::Empty)
            .unwrap()
    }

    #[test]
    fn errors_become_json_with_request_id_and_auth_challenge() {
        let response = respond(&request(), Err(ApiError::Unauthorized));

        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert!(!response.headers()[X_REQUEST_ID].is_empty());
    }
}

//! The connection to the upstream (DynamoDB Local): forwarding a client's
//! request as it came (hop-by-hop headers aside; `Host` and the SigV4
//! headers untouched, so the signature still matches what was signed), and
//! the proxy's own calls (`DescribeTable`, `BatchGetItem`) made with the
//! client's credentials headers, so they see the same tables.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The headers the proxy's own calls copy from the client's request.
pub const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "x-amz-date", "x-amz-security-token"];

/// The JSON protocol's target prefix.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// An HTTP client for the upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Upstream {
    fn default() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

/// An upstream answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Status, version and headers (hop-by-hop ones removed).
    pub parts: hyper::http::response::Parts,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// The answer as a response to the client.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        Response::from_parts(self.parts, Full::new(self.body))
    }

    /// The answer with every `"from"` in its body made `"to"` (a table's
    /// name; its length and checksum headers dropped if anything changed).
    pub fn rename(mut self, from: &str, to: &str) -> Self {
        let (from, to) = (format!("\"{from}\""), format!("\"{to}\""));
        let text = String::from_utf8_lossy(&self.body);
        if text.contains(&from) {
            self.body = Bytes::from(text.replace(&from, &to));
            self.parts.headers.remove(hyper::header::CONTENT_LENGTH);
            self.parts.headers.remove("x-amz-crc32");
        }
        self
    }

    /// The answer with a new JSON body (its length header dropped).
    pub fn with_body(self, body: &Value) -> Response<Full<Bytes>> {
        self.replace_body(body).into_response()
    }

    /// The answer with a new JSON body, its length and checksum headers dropped.
    pub fn replace_body(mut self, body: &Value) -> Self {
        self.parts.headers.remove(hyper::header::CONTENT_LENGTH);
        self.parts.headers.remove("x-amz-crc32");
        self.body = Bytes::from(body.to_string());
        self
    }
}

/// Removes the hop-by-hop headers, and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().map(HeaderName::as_str).chain(HOP_BY_HOP) {
        headers.remove(name);
    }
}

impl Upstream {
    /// Sends the client's request (with `body`) to `base` and reads the answer.
    pub async fn forward(
        &self,
        base: &str,
        parts: &hyper::http::request::Parts,
        body: Bytes,
    ) -> Result<Answer, String> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: Uri = format!("{}{path}", base.trim_end_matches('/'))
            .parse()
            .map_err(|e| format!("upstream address: {e}"))?;
        let length = HeaderValue::from(body.len());
        let mut request = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        *request.headers_mut() = parts.headers.clone();
        strip_hop_by_hop(request.headers_mut());
        // A rewritten body (a batch without its throttled items) has its own length.
        if request.headers().get(hyper::header::CONTENT_LENGTH) != Some(&length) {
            request
                .headers_mut()
                .insert(hyper::header::CONTENT_LENGTH, length);
        }
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("upstream: {e}"))?;
        let (mut parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("upstream body: {e}"))?
            .to_bytes();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Answer { parts, body })
    }

    /// Calls `operation` with `body` itself, with the client's credentials
    /// headers from `client`; the answer's JSON if it succeeded.
    pub async fn call(
        &self,
        base: &str,
        client: &HeaderMap,
        operation: &str,
        body: &Value,
    ) -> Option<Value> {
        match self.request(base, client, operation, body).await? {
            (status, json) if status.is_success() => Some(json),
            _ => None,
        }
    }

    /// [`Upstream::call`], answering the status and JSON of any answer
    /// (`None` only if there was no JSON answer).
    pub async fn request(
        &self,
        base: &str,
        client: &HeaderMap,
        operation: &str,
        body: &Value,
    ) -> Option<(hyper::StatusCode, Value)> {
        let mut builder = Request::builder()
            .method("POST")
            .uri(format!("{}/", base.trim_end_matches('/')))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("{TARGET_PREFIX}{operation}"));
        for name in CREDENTIAL_HEADERS {
            if let Some(value) = client.get(name) {
                builder = builder.header(name, value.clone());
            }
        }
        let request = builder
            .body(Full::new(Bytes::from(body.to_string())))
            .ok()?;
        let response = self.client.request(request).await.ok()?;
        let status = response.status();
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, serde_json::from_slice(&bytes).ok()?))
    }
}

/// The operation a request names in `X-Amz-Target` (`""` if none).
pub fn operation(headers: &HeaderMap) -> &str {
    headers
        .get("x-amz-target")
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|v| v.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
}

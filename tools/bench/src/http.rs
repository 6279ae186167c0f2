//! One keep-alive HTTP/1.1 connection to a `local-api` process (hyper's
//! client connection, no pool): the flood section gives each writer one, as
//! a real caller's client would hold. A request that fails or times out
//! drops the connection; the next one opens a new connection.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// How long a request may take before it counts as unanswered.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer: status, whether it carried `Retry-After`, the JSON body
/// (`Null` when it was not JSON).
pub struct Reply {
    pub status: u16,
    pub retry_after: bool,
    pub body: Value,
}

/// A connection to `address`, opened on first use.
pub struct Connection {
    address: SocketAddr,
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened so far (1 when keep-alive held throughout).
    pub opened: u64,
}

impl Connection {
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            host: address.to_string(),
            sender: None,
            opened: 0,
        }
    }

    /// Sends `method path_and_query` with `Authorization: Bearer key` and a
    /// JSON `body`; the answer, or why there was none.
    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        key: &str,
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let outcome = tokio::time::timeout(
            ANSWER_TIMEOUT,
            self.exchange(method, path_and_query, key, body),
        )
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", ANSWER_TIMEOUT.as_secs())));
        if outcome.is_err() {
            self.sender = None;
        }
        outcome
    }

    async fn exchange(
        &mut self,
        method: Method,
        path_and_query: &str,
        key: &str,
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {key}"));
        if body.is_some() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = builder
            .body(Full::new(bytes))
            .map_err(|e| format!("request: {e}"))?;
        let sender = self.ready().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let (parts, incoming) = response.into_parts();
        let body = incoming
            .collect()
            .await
            .map_err(|e| format!("read the body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            retry_after: parts.headers.contains_key(hyper::header::RETRY_AFTER),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        })
    }

    /// The open connection, ready for a request; opens one if there is none.
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if let Some(sender) = &mut self.sender {
            if sender.ready().await.is_err() {
                self.sender = None;
            }
        }
        if self.sender.is_none() {
            let stream = TcpStream::connect(self.address)
                .await
                .map_err(|e| format!("connect to {}: {e}", self.address))?;
            stream
                .set_nodelay(true)
                .map_err(|e| format!("nodelay: {e}"))?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(connection);
            self.opened += 1;
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("a connection"))
    }
}

/// `text` percent-encoded for a query string (everything but RFC 3986's unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encode_escapes_all_but_unreserved_characters() {
        assert_eq!(
            encode("flood one 8 3 000017"),
            "flood%20one%208%203%20000017"
        );
        assert_eq!(encode("a+b/c=é~"), "a%2Bb%2Fc%3D%C3%A9~");
    }
}

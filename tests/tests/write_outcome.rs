//! How a failed write attempt is classified ([`shared::store::outcome`]):
//! one test per way an attempt can fail, each against a stand-in endpoint
//! on 127.0.0.1 that fails in exactly that way, through the product's own
//! DynamoDB client (its timeouts, retries and interceptors).
//!
//! - a refused connection and a connect timeout never reached DynamoDB:
//!   nothing was applied;
//! - a request that was sent and never answered, and one answered with a
//!   server error, may have been applied.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::store::outcome::{self, WriteOutcome};
use shared::store::StoreError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Sends one `PutItem` to `endpoint` inside a write watch; returns its
/// error and what the watch says it may have changed.
async fn put_item_through(endpoint: &str) -> (StoreError, WriteOutcome) {
    let client = shared::store::connect_to(Some(endpoint)).await;
    let (result, outcome) = outcome::watch_writes(
        client
            .put_item()
            .table_name("clients")
            .item("pk", AttributeValue::S("ORG#acme".into()))
            .item("sk", AttributeValue::S("CLIENT#1".into()))
            .send(),
    )
    .await;
    let error = StoreError::from(result.expect_err("the stand-in never answers with success"));
    (error.with_outcome(outcome), outcome)
}

fn assert_unavailable(error: &StoreError, expected: WriteOutcome) {
    assert!(
        matches!(error, StoreError::Unavailable { outcome, .. } if *outcome == expected),
        "expected Unavailable({expected:?}), got {error:?}"
    );
}

/// Reads each request (headers and body) and answers it with `answer`, or
/// never answers when `answer` is `None`; keeps the connection open.
async fn serve(listener: TcpListener, answer: Option<String>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if let Some(answer) = &answer {
                            if stream.write_all(answer.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
    }
}

#[tokio::test]
async fn a_refused_connection_changed_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let (error, outcome) = put_item_through(&endpoint).await;

    assert_eq!(outcome, WriteOutcome::NotApplied);
    assert_unavailable(&error, WriteOutcome::NotApplied);
}

#[tokio::test]
async fn a_connect_timeout_changed_nothing() {
    // A listener that never accepts, its backlog filled: the kernel drops
    // further SYNs, so connecting hangs until the client's connect timeout.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let _listener = socket.listen(0).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(address)).await
        {
            fillers.push(stream);
        }
    }
    let endpoint = format!("http://{address}");

    let (error, outcome) = put_item_through(&endpoint).await;

    assert_eq!(outcome, WriteOutcome::NotApplied, "{error:?}");
    assert_unavailable(&error, WriteOutcome::NotApplied);
    let text = shared::http::error::cause_chain(&error);
    assert!(text.contains("timeout"), "not a connect timeout: {text}");
}

#[tokio::test]
async fn a_request_sent_and_never_answered_may_have_been_applied() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, None));

    let (error, outcome) = put_item_through(&endpoint).await;

    assert_eq!(outcome, WriteOutcome::MaybeApplied);
    assert_unavailable(&error, WriteOutcome::MaybeApplied);
}

/// DynamoDB's wire shape for an error answer (awsJson1_0: the error type in
/// `__type`), with its status line.
fn dynamodb_error(status_line: &str, error_type: &str, message: &str) -> String {
    let body = serde_json::json!({"__type": error_type, "message": message}).to_string();
    format!(
        "HTTP/1.1 {status_line}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         x-amzn-RequestId: TEST\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A stand-in endpoint that answers every request with `answer`.
async fn endpoint_answering(answer: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, Some(answer)));
    endpoint
}

#[tokio::test]
async fn a_server_error_answer_may_have_been_applied() {
    let endpoint = endpoint_answering(dynamodb_error(
        "500 Internal Server Error",
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ))
    .await;

    let (error, outcome) = put_item_through(&endpoint).await;

    assert_eq!(outcome, WriteOutcome::MaybeApplied);
    assert_unavailable(&error, WriteOutcome::MaybeApplied);
}

#[tokio::test]
async fn a_client_error_answer_changed_nothing() {
    let endpoint = endpoint_answering(dynamodb_error(
        "400 Bad Request",
        "com.amazon.coral.validate#ValidationException",
        "One or more parameter values were invalid",
    ))
    .await;

    let (error, outcome) = put_item_through(&endpoint).await;

    assert_eq!(outcome, WriteOutcome::NotApplied);
    assert!(matches!(error, StoreError::Failed(_)), "{error:?}");
}

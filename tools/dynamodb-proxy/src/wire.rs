//! The error answers the proxy makes up, in the exact shape the service
//! sends them (AWS JSON 1.0 protocol: HTTP 400, or 500 for a server error,
//! `Content-Type: application/x-amz-json-1.0`, a body with `__type` naming
//! the shape).
//!
//! Sources for each shape:
//! - `__type` is `com.amazonaws.dynamodb.v20120810#<Shape>`, as DynamoDB
//!   Local (which answers the service's own error shapes, e.g. its
//!   `TransactionCanceledException` for a failed condition) and the SDK's
//!   error parser (`aws-sdk-dynamodb` 1.136 `src/json_errors.rs`: reads
//!   `__type`, keeps what follows `#`) agree.
//! - `TransactionCanceledException`: members `Message` and
//!   `CancellationReasons` (`protocol_serde/shape_transaction_canceled_exception.rs`),
//!   each reason `Code` and `Message` (`shape_cancellation_reason.rs`).
//!   The reason codes and messages are from the shape's documentation
//!   (`types/error/_transaction_canceled_exception.rs`, the same text as the
//!   API reference's `TransactWriteItems` page): `TransactionConflict` /
//!   "Transaction is ongoing for the item.", `ThrottlingError` / "Throughput
//!   exceeds the current capacity of your table or index. …", and `None` with
//!   no message for an item without error. The top-level message lists the
//!   codes in request order, as DynamoDB Local does for its own cancellations
//!   ("Transaction cancelled, please refer cancellation reasons for specific
//!   reasons [None, ConditionalCheckFailed]").
//! - `TransactionConflictException`: member `message`
//!   (`shape_transaction_conflict_exception.rs`); the text is the shape's
//!   documentation ("Operation was rejected because there is an ongoing
//!   transaction for the item").
//! - `ThrottlingException`: members `message` and `throttlingReasons`
//!   (`shape_throttling_exception.rs`), each reason `reason` and `resource`
//!   (`shape_throttling_reason.rs`; reasons `TableWriteKeyRangeThroughputExceeded`,
//!   `IndexReadKeyRangeThroughputExceeded`, … per the API reference's
//!   `ThrottlingReason` page and the developer guide's "Diagnosing
//!   throttling"). An on-demand table's hot partition answers
//!   `ThrottlingException` with the message below (seen from the service,
//!   e.g. github.com/cowinapi/developer.cowin/issues/151, and the on-demand
//!   messages of `TransactionCanceledException`'s documentation).
//! - `InternalServerError`: HTTP 500 (the developer guide's "Error handling
//!   with DynamoDB", under its 5xx status codes: retryable, expected now and
//!   then during the lifetime of a table), member `message` (`shape_internal_server_error.rs`; every
//!   operation's error enum has the variant, e.g. `PutItemError::InternalServerError`).
//!   The text is what the service sends, as SDK users quote it: "Internal
//!   server error" (github.com/aws/aws-sdk-js/issues/3891: `code:
//!   'InternalServerError'`, `statusCode: 500`, on a `transactWrite`;
//!   github.com/aws/aws-sdk-java/issues/1881: "Internal server error
//!   (Service: AmazonDynamoDBv2; Status Code: 500; Error Code:
//!   InternalServerError …)"). The SDK's standard retry strategy retries it
//!   by its status (`aws-smithy-runtime` `HttpStatusCodeClassifier`: 500,
//!   502, 503, 504).

use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// The namespace of every DynamoDB error shape on the wire.
const NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810#";
/// The message of a `TransactionConflict` cancellation reason.
pub const TRANSACTION_CONFLICT_REASON: &str = "Transaction is ongoing for the item.";
/// The message of a `TransactionConflictException`.
pub const TRANSACTION_CONFLICT_MESSAGE: &str =
    "Operation was rejected because there is an ongoing transaction for the item";
/// The on-demand table throttling message.
pub const TABLE_THROTTLED_MESSAGE: &str = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html";
/// The message of an `InternalServerError`.
pub const INTERNAL_SERVER_ERROR_MESSAGE: &str = "Internal server error";
/// The on-demand index throttling message.
pub const INDEX_THROTTLED_MESSAGE: &str = "Throughput exceeds the current capacity for one or more global secondary indexes. DynamoDB is automatically scaling your index so please try again shortly.";

/// Why one item of a transaction was cancelled (`None` for no error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The item had no error.
    None,
    /// Another transaction holds the item.
    TransactionConflict,
    /// The item's partition is over its rate.
    Throttling {
        /// Whether an index partition (rather than the table's) is over its rate.
        index: bool,
    },
}

impl Reason {
    fn to_json(&self) -> Value {
        match self {
            Reason::None => json!({"Code": "None"}),
            Reason::TransactionConflict => {
                json!({"Code": "TransactionConflict", "Message": TRANSACTION_CONFLICT_REASON})
            }
            Reason::Throttling { index } => json!({
                "Code": "ThrottlingError",
                "Message": if *index { INDEX_THROTTLED_MESSAGE } else { TABLE_THROTTLED_MESSAGE },
            }),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Reason::None => "None",
            Reason::TransactionConflict => "TransactionConflict",
            Reason::Throttling { .. } => "ThrottlingError",
        }
    }
}

/// One throttled resource: the reason code and the table's or index's ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlingReason {
    /// `TableWriteKeyRangeThroughputExceeded` and the like.
    pub reason: String,
    /// The ARN of the table or index.
    pub resource: String,
}

/// `TransactionCanceledException` with one reason per item, in request order.
pub fn transaction_canceled(reasons: &[Reason]) -> Response<Full<Bytes>> {
    let codes: Vec<&str> = reasons.iter().map(Reason::code).collect();
    error(
        "TransactionCanceledException",
        json!({
            "CancellationReasons": reasons.iter().map(Reason::to_json).collect::<Vec<_>>(),
            "Message": format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        }),
    )
}

/// `TransactionInProgressException`, for a transaction whose
/// `ClientRequestToken` is that of one still in flight (member `Message`, as
/// the SDK's `shape_transaction_in_progress_exception.rs` reads it; the text
/// is the API reference's description of the error).
pub fn transaction_in_progress() -> Response<Full<Bytes>> {
    error(
        "TransactionInProgressException",
        json!({"Message": "The transaction with the given request token is already in progress."}),
    )
}

/// `TransactionConflictException`, for a single-item write on a held item.
pub fn transaction_conflict() -> Response<Full<Bytes>> {
    error(
        "TransactionConflictException",
        json!({"message": TRANSACTION_CONFLICT_MESSAGE}),
    )
}

/// `ThrottlingException` naming the throttled tables or indexes.
pub fn throttling(reasons: &[ThrottlingReason]) -> Response<Full<Bytes>> {
    let index = reasons.iter().all(|r| r.reason.starts_with("Index"));
    error(
        "ThrottlingException",
        json!({
            "message": if index { INDEX_THROTTLED_MESSAGE } else { TABLE_THROTTLED_MESSAGE },
            "throttlingReasons": reasons
                .iter()
                .map(|r| json!({"reason": r.reason, "resource": r.resource}))
                .collect::<Vec<_>>(),
        }),
    )
}

/// HTTP 500 `InternalServerError`, the service's own failure.
pub fn internal_server_error() -> Response<Full<Bytes>> {
    error_with_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        json!({"message": INTERNAL_SERVER_ERROR_MESSAGE}),
    )
}

/// A 400 answer of error shape `shape` with these members.
fn error(shape: &str, members: Value) -> Response<Full<Bytes>> {
    error_with_status(StatusCode::BAD_REQUEST, shape, members)
}

/// An answer of error shape `shape` with these members and this status.
fn error_with_status(status: StatusCode, shape: &str, members: Value) -> Response<Full<Bytes>> {
    let mut body = serde_json::Map::new();
    body.insert(
        "__type".into(),
        Value::String(format!("{NAMESPACE}{shape}")),
    );
    if let Value::Object(members) = members {
        body.extend(members);
    }
    json_response(status, Value::Object(body).to_string())
}

/// An AWS JSON 1.0 answer with a fresh request id, as the service sends one.
pub fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", format!("proxy-{id:016x}"))
        .body(Full::new(Bytes::from(body)))
        .expect("static status and valid headers")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(response: Response<Full<Bytes>>) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_cancellation_lists_one_reason_per_item_and_names_them_in_its_message() {
        let response = transaction_canceled(&[Reason::TransactionConflict, Reason::None]);

        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_of(response).await;
        assert_eq!(
            body["__type"],
            "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
        );
        assert_eq!(
            body["CancellationReasons"],
            json!([{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item."}, {"Code": "None"}])
        );
        assert_eq!(
            body["Message"],
            "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]"
        );
    }

    #[tokio::test]
    async fn a_server_error_is_a_500_of_the_internal_server_error_shape() {
        let response = internal_server_error();

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body_of(response).await,
            json!({
                "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "message": "Internal server error",
            })
        );
    }

    #[tokio::test]
    async fn an_index_throttle_answers_the_index_message() {
        let reason = ThrottlingReason {
            reason: "IndexWriteKeyRangeThroughputExceeded".into(),
            resource: "arn:aws:dynamodb:ddblocal:000000000000:table/t/index/i".into(),
        };

        let body = body_of(throttling(&[reason])).await;

        assert_eq!(body["message"], INDEX_THROTTLED_MESSAGE);
        assert_eq!(
            body["throttlingReasons"][0]["reason"],
            "IndexWriteKeyRangeThroughputExceeded"
        );
    }
}

//! The proxy with every part off is a pass-through; latency and faults
//! are applied exactly as configured.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, client_with_timeout, exists, proxy, put, table};
use dynamodb_proxy::{Fault, Proxy, ProxyConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What the fake upstream received: method, path, headers and body.
type Seen = Arc<Mutex<Vec<(String, String, Vec<(String, String)>, Bytes)>>>;

/// The fake upstream's fixed answer body.
const ANSWER: &str = r#"{"Item":{"pk":{"S":"a"}},"ConsumedCapacity":null}"#;

/// An upstream that records each request and answers [`ANSWER`] with its own headers.
async fn recording_upstream() -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let record = Arc::clone(&record);
                    async move {
                        let (parts, body) = request.into_parts();
                        let headers = parts
                            .headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                            .collect();
                        let body = body.collect().await.unwrap().to_bytes();
                        record.lock().unwrap().push((
                            parts.method.to_string(),
                            parts.uri.to_string(),
                            headers,
                            body,
                        ));
                        Response::builder()
                            .header("content-type", "application/x-amz-json-1.0")
                            .header("x-amzn-requestid", "upstream-id")
                            .header("x-amz-crc32", "12345")
                            .body(Full::new(Bytes::from(ANSWER)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{address}"), seen)
}

#[tokio::test]
async fn a_request_and_its_answer_go_through_unchanged_when_every_part_is_off() {
    let (upstream, seen) = recording_upstream().await;
    let proxy = Proxy::start(ProxyConfig::transparent(upstream))
        .await
        .unwrap();
    let body = r#"{"TableName":"t","Key":{"pk":{"S":"a"}},  "ConsistentRead":true}"#;
    let headers = [
        ("host", "dynamodb.us-east-1.amazonaws.com"),
        ("x-amz-target", "DynamoDB_20120810.GetItem"),
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-date", "20240101T000000Z"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=abc"),
    ];
    let length = body.len().to_string();
    let headers: Vec<(&str, &str)> = headers
        .into_iter()
        .chain([("content-length", length.as_str())])
        .collect();
    let mut request = Request::post(format!("{}/?q=1", proxy.endpoint()));
    for (name, value) in &headers {
        request = request.header(*name, *value);
    }
    let request = request
        .header("connection", "keep-alive")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();

    let response = client.request(request).await.unwrap();

    let answer_headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let answer = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(answer, ANSWER.as_bytes());
    for expected in [
        ("x-amzn-requestid", "upstream-id"),
        ("x-amz-crc32", "12345"),
    ] {
        assert!(
            answer_headers.contains(&(expected.0.into(), expected.1.into())),
            "{answer_headers:?}"
        );
    }
    let seen = seen.lock().unwrap();
    let (method, path, received, received_body) = &seen[0];
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/?q=1"));
    assert_eq!(received_body, body.as_bytes());
    let sent: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        received, &sent,
        "every end-to-end header, Host and signature included, in order; no Connection"
    );
    assert_eq!(proxy.summary().forwarded["GetItem"], 1);
}

#[tokio::test]
async fn latency_is_added_before_each_call() {
    let latency = Duration::from_millis(300);
    let proxy = proxy(|c| c.latency = latency).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;

    let started = Instant::now();
    put(&client, &table, "a", "1", None).await.unwrap();
    let took = started.elapsed();

    assert!(took >= latency, "took {took:?}");
    let summary = proxy.summary();
    assert_eq!(summary.delayed_requests, 2, "CreateTable and PutItem");
    assert_eq!(summary.delayed_ms, 600);
}

#[tokio::test]
async fn a_withheld_answer_times_out_although_the_write_happened_exactly_count_times() {
    let proxy = proxy(|_| {}).await;
    let client = client_with_timeout(&proxy.endpoint(), Duration::from_millis(500)).await;
    let table = table(&client).await;
    proxy.inject(Fault::WithholdAnswer {
        operation: "PutItem".into(),
        count: 2,
        delay: None,
    });

    let first = put(&client, &table, "a", "1", None).await;
    let second = put(&client, &table, "a", "2", None).await;
    let third = put(&client, &table, "a", "3", None).await;

    assert!(
        first.is_err() && second.is_err(),
        "the client sees no answer"
    );
    assert!(third.is_ok(), "the fault fired twice only: {third:?}");
    for sk in ["1", "2", "3"] {
        assert!(exists(&table, "a", sk).await, "the write {sk} happened");
    }
    assert_eq!(proxy.summary().answers_withheld, 2);
}

#[tokio::test]
async fn an_answer_delayed_past_the_client_timeout_over_the_admin_endpoint() {
    let proxy = proxy(|_| {}).await;
    let client = client_with_timeout(&proxy.endpoint(), Duration::from_millis(300)).await;
    let table = table(&client).await;
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
    let fault = r#"{"kind":"WithholdAnswer","operation":"PutItem","count":1,"delay_ms":1000}"#;
    let arm = Request::post(format!("{}/_proxy/faults", proxy.endpoint()))
        .body(Full::new(Bytes::from(fault)))
        .unwrap();
    assert!(http.request(arm).await.unwrap().status().is_success());

    let started = Instant::now();
    let timed_out = put(&client, &table, "a", "1", None).await;

    assert!(timed_out.is_err() && started.elapsed() < Duration::from_millis(1000));
    assert!(exists(&table, "a", "1").await, "the write happened");
    let summary = http
        .get(
            format!("{}/_proxy/summary", proxy.endpoint())
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&summary.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(summary["answers_withheld"], 1);
}

#[tokio::test]
async fn a_dropped_request_never_reaches_the_upstream_exactly_count_times() {
    let proxy = proxy(|_| {}).await;
    let client = client(&proxy.endpoint()).await;
    let table = table(&client).await;
    proxy.inject(Fault::DropRequest {
        operation: "PutItem".into(),
        count: 2,
    });

    let first = put(&client, &table, "a", "1", None).await;
    let second = put(&client, &table, "a", "2", None).await;
    let third = put(&client, &table, "a", "3", None).await;

    assert!(first.is_err() && second.is_err());
    assert!(third.is_ok(), "{third:?}");
    assert!(
        !exists(&table, "a", "1").await && !exists(&table, "a", "2").await,
        "dropped writes did not happen"
    );
    let summary = proxy.summary();
    assert_eq!(
        (summary.requests_dropped, summary.forwarded["PutItem"]),
        (2, 1)
    );
}

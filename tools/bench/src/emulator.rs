//! Cold starts through a minimal Lambda Runtime API (the ideas of
//! `tests/src/runtime_emulator.rs`, reduced to one event per process).
//!
//! [`cold_start`] serves the Runtime API on a free 127.0.0.1 port, spawns the
//! binary with the environment Lambda gives a function, and measures from the
//! spawn to its first `GET /runtime/invocation/next` (ready: init is done)
//! and to its answer to the first event; then it reads the process's peak RSS
//! (`VmHWM` in `/proc/<pid>/status`) and kills it.

use std::convert::Infallible;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinSet;

const TIMEOUT: Duration = Duration::from_secs(20);
const REQUEST_ID: &str = "00000000-0000-7000-8000-000000000001";

/// One cold start, measured.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// Spawn → first `/next` poll.
    pub ready: Duration,
    /// Spawn → the first event's answer posted.
    pub answered: Duration,
    /// Peak resident set size, KiB.
    pub peak_rss_kib: u64,
    /// The answer's `statusCode` (API Gateway response), if any.
    pub status: Option<u64>,
}

struct State {
    ready_at: Mutex<Option<Instant>>,
    ready: Notify,
    event: Mutex<Option<oneshot::Receiver<Bytes>>>,
    answer: Mutex<Option<oneshot::Sender<(Instant, Bytes)>>>,
}

async fn serve(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let ok = |status: StatusCode, body: Bytes| {
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap())
    };
    if request.method() == Method::GET && path.ends_with("/runtime/invocation/next") {
        {
            let mut ready_at = state.ready_at.lock().unwrap();
            if ready_at.is_none() {
                *ready_at = Some(Instant::now());
                state.ready.notify_one();
            }
        }
        let pending = state.event.lock().unwrap().take();
        let Some(pending) = pending else {
            // A second poll: nothing more will come; the process is killed meanwhile.
            std::future::pending::<()>().await;
            unreachable!()
        };
        let Ok(event) = pending.await else {
            return ok(StatusCode::GONE, Bytes::new());
        };
        let deadline = SystemTime::now() + TIMEOUT;
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis();
        return Ok(Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", REQUEST_ID)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000001;Sampled=0",
            )
            .body(Full::new(event))
            .unwrap());
    }
    if request.method() == Method::POST && (path.ends_with("/response") || path.ends_with("/error"))
    {
        let at = Instant::now();
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if let Some(answer) = state.answer.lock().unwrap().take() {
            let _ = answer.send((at, body));
        }
        return ok(StatusCode::ACCEPTED, Bytes::from_static(b"{}"));
    }
    if request.method() == Method::POST && path.ends_with("/init/error") {
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        eprintln!("bench: init error: {}", String::from_utf8_lossy(&body));
        return ok(StatusCode::ACCEPTED, Bytes::from_static(b"{}"));
    }
    ok(StatusCode::NOT_FOUND, Bytes::new())
}

/// Peak RSS of a live process, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Starts `binary` as Lambda would, sends it `event`, and measures.
pub async fn cold_start(
    binary: &Path,
    env: &[(String, String)],
    event: &str,
) -> Result<ColdStart, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (event_tx, event_rx) = oneshot::channel();
    let (answer_tx, answer_rx) = oneshot::channel();
    let state = Arc::new(State {
        ready_at: Mutex::new(None),
        ready: Notify::new(),
        event: Mutex::new(Some(event_rx)),
        answer: Mutex::new(Some(answer_tx)),
    });
    let server_state = state.clone();
    let server = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = server_state.clone();
            connections.spawn(async move {
                let service = service_fn(move |request| serve(state.clone(), request));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let name = binary
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("function")
        .to_owned();
    let mut all_env: Vec<(String, String)> = vec![
        ("AWS_LAMBDA_RUNTIME_API".into(), address.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH".into(), "true".into()),
    ];
    all_env.extend(env.iter().cloned());

    let spawned_at = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(all_env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {}: {e}", binary.display()))?;
    let pid = child.id().unwrap_or(0);

    let result = async {
        tokio::select! {
            () = state.ready.notified() => {}
            status = child.wait() => return Err(format!("{} exited during init: {status:?}", binary.display())),
            () = tokio::time::sleep(TIMEOUT) => return Err(format!("{} not ready within {TIMEOUT:?}", binary.display())),
        }
        let ready_at = state.ready_at.lock().unwrap().expect("set before the notification");
        let _ = event_tx.send(Bytes::from(event.to_owned()));
        let (answered_at, body) = tokio::select! {
            answer = answer_rx => answer.map_err(|_| "the emulator dropped the answer".to_string())?,
            status = child.wait() => return Err(format!("{} exited during the first event: {status:?}", binary.display())),
            () = tokio::time::sleep(TIMEOUT) => return Err(format!("{} did not answer within {TIMEOUT:?}", binary.display())),
        };
        let status = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64));
        // Let it reach its second poll (the state a warm container idles in).
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(ColdStart {
            ready: ready_at - spawned_at,
            answered: answered_at - spawned_at,
            peak_rss_kib: peak_rss_kib(pid),
            status,
        })
    }
    .await;
    let _ = child.kill().await;
    server.abort();
    result
}

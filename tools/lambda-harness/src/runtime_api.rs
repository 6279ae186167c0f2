//! A small Lambda Runtime API emulator of ours, for what AWS's RIE
//! ([`rie`](crate::rie)) does not measure: the time from the spawn of a
//! function binary to its first `GET /invocation/next` (its init), the time
//! to its first answer, and its peak RSS. The benchmark's cold-start section
//! uses it through [`cold_start`].
//!
//! [`FunctionProcess::start`] serves the Runtime API on a free 127.0.0.1 port
//! (hyper 1) and spawns a binary with the environment Lambda gives a function
//! (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, ...).
//! [`FunctionProcess::invoke`] queues an event, which the function pulls with
//! `GET /2018-06-01/runtime/invocation/next`, and waits for what it posts back
//! to `.../invocation/{id}/response` or `.../invocation/{id}/error`. The process
//! is kept between invocations, as Lambda keeps a warm container.
//!
//! Served routes (everything else is 404):
//!
//! | route | |
//! |---|---|
//! | `GET /2018-06-01/runtime/invocation/next` | waits for a queued event; answers it with the `Lambda-Runtime-*` headers |
//! | `POST /2018-06-01/runtime/invocation/{id}/response` | the invocation's result |
//! | `POST /2018-06-01/runtime/invocation/{id}/error` | the invocation's error |
//! | `POST /2018-06-01/runtime/init/error` | the function failed to initialise |

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::process::{function_env, function_name, spawn, Output};

/// How long an invocation (or start-up) may take before it counts as hung.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

/// One invocation handed to the function by `/next`.
struct Invocation {
    request_id: String,
    event: Bytes,
}

/// What the function posted for an invocation, and when.
struct Outcome {
    at: Instant,
    is_error: bool,
    body: Bytes,
}

/// Where the function is in its start-up.
#[derive(Clone, Debug)]
enum Phase {
    Starting,
    /// It asked for its first event at this instant: initialisation is done.
    Polled(Instant),
    /// It posted to `/runtime/init/error`.
    InitError(String),
}

/// The emulator's state, shared by the request handlers and the [`FunctionProcess`].
struct Runtime {
    function_name: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    phase: watch::Sender<Phase>,
}

type ResponseBody = Full<Bytes>;

impl Runtime {
    async fn serve(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<ResponseBody>, Infallible> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let route = path.strip_prefix(RUNTIME_PREFIX).unwrap_or("");
        let segments: Vec<&str> = route.split('/').collect();
        let response = match (method, segments.as_slice()) {
            (Method::GET, ["invocation", "next"]) => self.next().await,
            (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
                let (id, is_error) = ((*id).to_owned(), *kind == "error");
                let at = Instant::now();
                let body = read_body(request).await;
                self.complete(&id, Outcome { at, is_error, body })
            }
            (Method::POST, ["init", "error"]) => {
                let body = read_body(request).await;
                self.phase.send_replace(Phase::InitError(
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                json(StatusCode::ACCEPTED, "OK")
            }
            _ => json(
                StatusCode::NOT_FOUND,
                &format!("no such Runtime API route: {path}"),
            ),
        };
        Ok(response)
    }

    /// `GET /invocation/next`: waits for the next queued event.
    async fn next(&self) -> Response<ResponseBody> {
        self.phase.send_if_modified(|phase| match phase {
            Phase::Starting => {
                *phase = Phase::Polled(Instant::now());
                true
            }
            _ => false,
        });
        let Some(invocation) = self.queue.lock().await.recv().await else {
            return json(StatusCode::GONE, "the emulator is shutting down");
        };
        let deadline = SystemTime::now() + INVOKE_TIMEOUT;
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        let simple = invocation.request_id.replace('-', "");
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &invocation.request_id)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                format!(
                    "arn:aws:lambda:us-east-1:123456789012:function:{}",
                    self.function_name
                ),
            )
            .header(
                "lambda-runtime-trace-id",
                format!(
                    "Root=1-{}-{};Parent={};Sampled=0",
                    &simple[..8],
                    &simple[8..],
                    &simple[16..]
                ),
            )
            .body(Full::new(invocation.event))
            .expect("a valid response")
    }

    /// `POST /invocation/{id}/response|error`: hands the outcome to the waiting `invoke`.
    fn complete(&self, id: &str, outcome: Outcome) -> Response<ResponseBody> {
        let waiting = self.pending.lock().expect("pending invocations").remove(id);
        match waiting {
            Some(sender) => {
                let _ = sender.send(outcome);
                json(StatusCode::ACCEPTED, "OK")
            }
            None => json(
                StatusCode::BAD_REQUEST,
                &format!("no invocation {id} is waiting for an answer"),
            ),
        }
    }
}

async fn read_body(request: Request<Incoming>) -> Bytes {
    request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default()
}

fn json(status: StatusCode, message: &str) -> Response<ResponseBody> {
    let body = if status.is_success() {
        serde_json::json!({ "status": message })
    } else {
        serde_json::json!({ "errorMessage": message, "errorType": "InvalidRequest" })
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

/// Serves the Runtime API on `listener` until aborted; aborting also ends
/// every open connection (they live in the task's `JoinSet`).
async fn accept_loop(listener: TcpListener, runtime: Arc<Runtime>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let runtime = runtime.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| runtime.clone().serve(request));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Why a function did not get ready to take events.
#[derive(Debug)]
pub struct InitFailure {
    /// What it posted to `/runtime/init/error`, if it did.
    pub init_error: Option<String>,
    /// How the process ended, if it did.
    pub exit_status: Option<ExitStatus>,
    /// Its stderr and stdout so far.
    pub output: String,
}

impl fmt::Display for InitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "init error: {:?}, exit status: {:?}\n{}",
            self.init_error, self.exit_status, self.output
        )
    }
}

/// A function's answer to one invocation.
#[derive(Debug)]
pub struct Answer {
    /// From the spawn of the process to the answer's arrival.
    pub since_spawn: Duration,
    /// The response payload, or the error payload posted to `/error`.
    pub payload: Result<Value, String>,
}

/// A function binary running against the emulated Runtime API.
///
/// Dropping it kills the process and stops the emulator.
pub struct FunctionProcess {
    name: String,
    child: Child,
    exit_status: Option<ExitStatus>,
    runtime: Arc<Runtime>,
    events: mpsc::UnboundedSender<Invocation>,
    server: JoinHandle<()>,
    spawned_at: Instant,
    output: Output,
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FunctionProcess {
    /// Starts `binary` as Lambda would, with `env` added to Lambda's
    /// environment (e.g. `TABLE_NAME`). Call inside a Tokio runtime.
    pub fn start(binary: impl AsRef<Path>, env: &[(&str, &str)]) -> Self {
        let binary = binary.as_ref();
        let name = function_name(binary);

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the Runtime API");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("the Runtime API address");
        let listener = TcpListener::from_std(listener)
            .expect("a Tokio listener (call inside a Tokio runtime)");
        let (events, queue) = mpsc::unbounded_channel();
        let runtime = Arc::new(Runtime {
            function_name: name.clone(),
            queue: tokio::sync::Mutex::new(queue),
            pending: Mutex::new(HashMap::new()),
            phase: watch::Sender::new(Phase::Starting),
        });
        let server = tokio::spawn(accept_loop(listener, runtime.clone()));

        let runtime_api = address.to_string();
        let lambda = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.as_str()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ];
        let spawned_at = Instant::now();
        let (child, output) = spawn(Command::new(binary), function_env(&lambda, env, &[]));

        Self {
            name,
            child,
            exit_status: None,
            runtime,
            events,
            server,
            spawned_at,
            output,
        }
    }

    /// The function's name (its binary's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process's stderr and stdout so far.
    pub fn output(&self) -> String {
        self.output.report(&self.name)
    }

    /// The process's peak resident set size so far, in KiB (`VmHWM` of
    /// `/proc/<pid>/status`; 0 where there is no such file).
    pub fn peak_rss_kib(&self) -> u64 {
        let Some(pid) = self.child.id() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("VmHWM:"))
                    .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Waits until the function first asks for an event, and returns how long
    /// that took from the spawn: its init time. Fails if it reports an init
    /// error, exits, or is not ready within [`INVOKE_TIMEOUT`].
    pub async fn init_time(&mut self) -> Result<Duration, InitFailure> {
        let mut phase = self.runtime.phase.subscribe();
        let deadline = tokio::time::sleep(INVOKE_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            let current = phase.borrow_and_update().clone();
            match current {
                Phase::Polled(at) => return Ok(at - self.spawned_at),
                Phase::InitError(payload) => {
                    // Lambda's runtimes exit after reporting; give it a moment to.
                    let exit_status = tokio::time::timeout(Duration::from_secs(2), self.wait())
                        .await
                        .ok();
                    return Err(self.init_failure(Some(payload), exit_status));
                }
                Phase::Starting => {}
            }
            if let Some(status) = self.exit_status {
                return Err(self.init_failure(None, Some(status)));
            }
            tokio::select! {
                _ = phase.changed() => {}
                _ = self.wait() => {
                    // Let the output readers drain what it wrote before judging.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                () = &mut deadline => return Err(self.init_failure(None, None)),
            }
        }
    }

    fn init_failure(
        &self,
        init_error: Option<String>,
        exit_status: Option<ExitStatus>,
    ) -> InitFailure {
        InitFailure {
            init_error,
            exit_status,
            output: self.output(),
        }
    }

    /// Waits for the process to end (cancel-safe).
    async fn wait(&mut self) -> ExitStatus {
        if let Some(status) = self.exit_status {
            return status;
        }
        let status = self
            .child
            .wait()
            .await
            .expect("wait for the function process");
        self.exit_status = Some(status);
        status
    }

    /// Sends one event to the function as Lambda would and returns its
    /// answer: the response payload, or the error payload it posted to `/error`.
    ///
    /// Panics, with the process's output, if the function does not answer
    /// within [`INVOKE_TIMEOUT`], exits, or answers something that is not JSON.
    pub async fn invoke(&mut self, event: &Value) -> Answer {
        let request_id = uuid::Uuid::now_v7().to_string();
        let (answer, outcome) = oneshot::channel();
        self.runtime
            .pending
            .lock()
            .expect("pending invocations")
            .insert(request_id.clone(), answer);
        self.events
            .send(Invocation {
                request_id: request_id.clone(),
                event: Bytes::from(event.to_string()),
            })
            .expect("the emulator is running");

        let outcome = tokio::select! {
            outcome = outcome => outcome.expect("the emulator keeps pending invocations"),
            status = self.wait() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                panic!("{} exited ({status}) during invocation {request_id}\n{}", self.name, self.output())
            }
            () = tokio::time::sleep(INVOKE_TIMEOUT) => {
                self.runtime.pending.lock().expect("pending invocations").remove(&request_id);
                panic!(
                    "{} did not answer invocation {request_id} within {INVOKE_TIMEOUT:?}\n{}",
                    self.name,
                    self.output()
                )
            }
        };
        let payload = if outcome.is_error {
            Err(String::from_utf8_lossy(&outcome.body).into_owned())
        } else {
            Ok(
                serde_json::from_slice(&outcome.body).unwrap_or_else(|error| {
                    panic!(
                        "{} answered a payload that is not JSON ({error}): {}\n{}",
                        self.name,
                        String::from_utf8_lossy(&outcome.body),
                        self.output()
                    )
                }),
            )
        };
        Answer {
            since_spawn: outcome.at - self.spawned_at,
            payload,
        }
    }
}

/// One cold start, measured by [`cold_start`].
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

/// Starts `binary` as Lambda would with `env` added, sends it `event` (JSON),
/// measures init, first answer and peak RSS, and kills it.
pub async fn cold_start(
    binary: &Path,
    env: &[(String, String)],
    event: &str,
) -> Result<ColdStart, String> {
    let event: Value = serde_json::from_str(event).map_err(|e| format!("the event: {e}"))?;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut process = FunctionProcess::start(binary, &env);
    let ready = process.init_time().await.map_err(|f| f.to_string())?;
    let answer = process.invoke(&event).await;
    let status = answer
        .payload
        .as_ref()
        .ok()
        .and_then(|payload| payload.get("statusCode"))
        .and_then(Value::as_u64);
    // Let it reach its second poll (the state a warm container idles in).
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(ColdStart {
        ready,
        answered: answer.since_spawn,
        peak_rss_kib: process.peak_rss_kib(),
        status,
    })
}

//! A small Lambda Runtime API emulator, to run the real function binaries the
//! way Lambda runs them.
//!
//! [`FunctionProcess::start`] serves the Runtime API on a free 127.0.0.1 port
//! (hyper 1) and spawns a binary with the environment Lambda gives a function
//! (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, ...), the table name
//! and the DynamoDB Local settings of the test process. [`FunctionProcess::invoke`]
//! queues an event, which the function pulls with
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
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// How long an invocation (or start-up) may take before the test fails.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The variables of the test process handed on to the function: DynamoDB
/// Local's endpoint and the credentials and region to sign with (set by
/// `scripts/test`), and Rust's logging and backtrace switches.
const PASSED_THROUGH: &[&str] = &[
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_EC2_METADATA_DISABLED",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

/// The path of a workspace binary built next to the running test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/<name>`).
pub fn binary_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the function binary {} does not exist: build the binaries first with \
         `cargo build --workspace --bins` (scripts/test does this before `cargo test`)",
        path.display()
    );
    path
}

/// One invocation handed to the function by `/next`.
struct Invocation {
    request_id: String,
    event: Bytes,
}

/// What the function posted for an invocation.
enum Outcome {
    Response(Bytes),
    Error(Bytes),
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
                let id = (*id).to_owned();
                let is_error = *kind == "error";
                match request.into_body().collect().await {
                    Ok(body) => {
                        let body = body.to_bytes();
                        self.complete(
                            &id,
                            if is_error {
                                Outcome::Error(body)
                            } else {
                                Outcome::Response(body)
                            },
                        )
                    }
                    Err(error) => json(
                        StatusCode::BAD_REQUEST,
                        &format!("unreadable body: {error}"),
                    ),
                }
            }
            (Method::POST, ["init", "error"]) => {
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
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
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FunctionProcess {
    /// Starts `binary` as Lambda would, with `TABLE_NAME` set to the tests'
    /// table; `extra_env` adds or overrides variables. Call inside a Tokio runtime.
    pub fn start(binary: impl AsRef<Path>, extra_env: &[(&str, &str)]) -> Self {
        Self::start_without(binary, extra_env, &[])
    }

    /// Like [`start`](Self::start), but leaves out the variables named in `removed`
    /// (e.g. `TABLE_NAME`, to see the function fail at start-up).
    pub fn start_without(
        binary: impl AsRef<Path>,
        extra_env: &[(&str, &str)],
        removed: &[&str],
    ) -> Self {
        let binary = binary.as_ref();
        let name = binary
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("a binary name")
            .to_owned();

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

        let mut env: Vec<(String, String)> = PASSED_THROUGH
            .iter()
            .filter_map(|var| {
                std::env::var(var)
                    .ok()
                    .map(|value| (var.to_string(), value))
            })
            .collect();
        let runtime_api = address.to_string();
        let lambda_env = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.as_str()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
            ("TABLE_NAME", crate::TEST_TABLE),
        ];
        for (key, value) in lambda_env.iter().chain(extra_env) {
            env.retain(|(existing, _)| existing != key);
            env.push((key.to_string(), value.to_string()));
        }
        env.retain(|(key, _)| !removed.contains(&key.as_str()));

        // A clean environment, as in Lambda: nothing of the developer's
        // (~/.aws, AWS_PROFILE, ...) reaches the function unless listed above.
        let spawned_at = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
        let stdout = collect(child.stdout.take().expect("piped stdout"));
        let stderr = collect(child.stderr.take().expect("piped stderr"));

        Self {
            name,
            child,
            exit_status: None,
            runtime,
            events,
            server,
            spawned_at,
            stdout,
            stderr,
        }
    }

    /// The function's name (its binary's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process's stderr and stdout so far.
    pub fn output(&self) -> String {
        format!(
            "--- stderr of {name}:\n{}--- stdout of {name}:\n{}",
            self.stderr.lock().unwrap(),
            self.stdout.lock().unwrap(),
            name = self.name
        )
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
    /// response payload, or the error payload it posted to `/error`.
    ///
    /// Panics, with the process's output, if the function does not answer
    /// within [`INVOKE_TIMEOUT`], exits, or answers something that is not JSON.
    pub async fn invoke(&mut self, event: &Value) -> Result<Value, String> {
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
                self.runtime.pending.lock().unwrap().remove(&request_id);
                panic!(
                    "{} did not answer invocation {request_id} within {INVOKE_TIMEOUT:?}\n{}",
                    self.name,
                    self.output()
                )
            }
        };
        match outcome {
            Outcome::Response(body) => Ok(serde_json::from_slice(&body).unwrap_or_else(|error| {
                panic!(
                    "{} answered a payload that is not JSON ({error}): {}\n{}",
                    self.name,
                    String::from_utf8_lossy(&body),
                    self.output()
                )
            })),
            Outcome::Error(body) => Err(String::from_utf8_lossy(&body).into_owned()),
        }
    }
}

/// Collects a pipe's lines into a shared string (and keeps the pipe drained).
fn collect(pipe: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

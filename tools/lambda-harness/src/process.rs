//! What both runners ([`rie`](crate::rie) and [`runtime_api`](crate::runtime_api))
//! share: where a function binary is, the environment Lambda gives it, and
//! its output, collected as it runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The variables of the calling process handed on to the function: DynamoDB
/// Local's endpoint and the credentials and region to sign with (set by
/// `scripts/test` and `scripts/bench`), and Rust's logging and backtrace switches.
const PASSED_THROUGH: &[&str] = &[
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_EC2_METADATA_DISABLED",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

/// What `template.yaml` (its `Globals`) and the Lambda service set for every
/// function, besides the table and the endpoint.
const FUNCTION_ENV: &[(&str, &str)] = &[
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
];

/// The path of a workspace binary built next to the running executable
/// (a test's `target/<profile>/deps/<test>` → `target/<profile>/<name>`).
pub fn binary_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's path");
    let mut dir = exe.parent().expect("the executable's directory");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("target/<profile>");
    }
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the function binary {} does not exist: build the binaries first with \
         `cargo build --workspace --bins` (scripts/test does this before `cargo test`)",
        path.display()
    );
    path
}

/// The function's name: its binary's file name.
pub(crate) fn function_name(binary: &Path) -> String {
    binary
        .file_stem()
        .and_then(|stem| stem.to_str())
        .expect("a binary name")
        .to_owned()
}

/// The environment of a function process: the [`PASSED_THROUGH`] variables
/// of this process, the template's settings, then `lambda` (what the runner
/// sets) and `extra` (the caller's), later ones winning; without the
/// variables named in `removed`. Nothing else of the developer's (~/.aws,
/// `AWS_PROFILE`, ...) reaches the function, as in Lambda.
pub(crate) fn function_env(
    lambda: &[(&str, &str)],
    extra: &[(&str, &str)],
    removed: &[&str],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = PASSED_THROUGH
        .iter()
        .filter_map(|var| {
            std::env::var(var)
                .ok()
                .map(|value| (var.to_string(), value))
        })
        .collect();
    for (key, value) in FUNCTION_ENV.iter().chain(lambda).chain(extra) {
        env.retain(|(existing, _)| existing != key);
        env.push((key.to_string(), value.to_string()));
    }
    env.retain(|(key, _)| !removed.contains(&key.as_str()));
    env
}

/// Spawns `command` with exactly `env` (see [`function_env`]), no stdin and
/// its output collected; the process is killed when the [`Child`] is dropped.
pub(crate) fn spawn(mut command: Command, env: Vec<(String, String)>) -> (Child, Output) {
    let mut child = command
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| {
            let program = command
                .as_std()
                .get_program()
                .to_string_lossy()
                .into_owned();
            panic!("start {program}: {error}")
        });
    let output = Output::collect(
        child.stdout.take().expect("piped stdout"),
        child.stderr.take().expect("piped stderr"),
    );
    (child, output)
}

/// A process's stdout and stderr, collected line by line as it writes them.
#[derive(Clone, Default)]
pub struct Output {
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Output {
    /// Starts collecting the two pipes (and keeps them drained).
    pub(crate) fn collect(
        stdout: impl AsyncRead + Unpin + Send + 'static,
        stderr: impl AsyncRead + Unpin + Send + 'static,
    ) -> Self {
        let output = Self::default();
        drain_into(stdout, output.stdout.clone());
        drain_into(stderr, output.stderr.clone());
        output
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("the output").clone()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("the output").clone()
    }

    /// Both streams so far, labelled with `name`, for a failure message.
    pub fn report(&self, name: &str) -> String {
        format!(
            "--- stderr of {name}:\n{}--- stdout of {name}:\n{}",
            self.stderr(),
            self.stdout(),
        )
    }
}

fn drain_into(pipe: impl AsyncRead + Unpin + Send + 'static, text: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut text = text.lock().expect("the output");
            text.push_str(&line);
            text.push('\n');
        }
    });
}

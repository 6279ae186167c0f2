//! Section 3, warm-up: first-request latency of a fresh `App` with and
//! without [`shared::App::warm_up`], and the steps of a function's init
//! timed in fresh processes (`bench init-probe`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::App;

use crate::format::{median, ms};
use crate::request::{get, send_ok, Prepared};
use crate::seed::Org;
use crate::settings::Settings;

/// First-request latencies over the runs.
#[derive(Default)]
struct FirstRequests {
    without: Vec<Duration>,
    with: Vec<Duration>,
    warmups: Vec<Duration>,
    second: Vec<Duration>,
}

/// First-request latency of a fresh `App` (new SDK client, no connection),
/// with and without `App::warm_up` before it.
pub async fn warmup_section(settings: &Settings, org: &Org) -> String {
    let config = settings.config();
    let request = get(&format!("/api/v1/clients/{}", org.clients[0].id), &org.key);
    let runs = settings.cold_runs.max(5);
    let mut times = FirstRequests::default();
    for _ in 0..runs {
        for warm in [false, true] {
            let app = App::new(shared::store::connect().await, &config);
            times.first_request(&app, &request, warm).await;
        }
    }
    times.report(runs)
}

impl FirstRequests {
    /// Times the first request of `app` (after `App::warm_up` if `warm`);
    /// without it, also a second request.
    async fn first_request(&mut self, app: &App, request: &Prepared, warm: bool) {
        if warm {
            let t = Instant::now();
            app.warm_up().await;
            self.warmups.push(t.elapsed());
        }
        let t = Instant::now();
        send_ok(app, request, 200, "first get").await;
        let first = t.elapsed();
        if warm {
            self.with.push(first);
        } else {
            self.without.push(first);
            let t = Instant::now();
            send_ok(app, request, 200, "second get").await;
            self.second.push(t.elapsed());
        }
    }

    fn report(self, runs: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Warm-up: first GET /clients/{{id}} of a fresh App (new SDK client; key look-up + GetItem), median of {runs}\n\
             (plain HTTP to DynamoDB Local: no TLS here, so the real saving in AWS is larger)"
        );
        let _ = writeln!(
            out,
            "  without warm-up: first request {}",
            ms(median(self.without))
        );
        let _ = writeln!(
            out,
            "  with warm-up:    first request {} (warm-up itself, during init: {})",
            ms(median(self.with)),
            ms(median(self.warmups))
        );
        let _ = writeln!(
            out,
            "  a warm request (second one, for reference): {}",
            ms(median(self.second))
        );
        out
    }
}

/// Microseconds since `t`.
fn micros(t: Instant) -> u64 {
    t.elapsed().as_micros() as u64
}

/// In a fresh process (`bench init-probe`): how long each step of a
/// function's init takes, in microseconds, as one JSON line.
pub fn init_probe() {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let runtime_us = micros(started);
    runtime.block_on(async {
        let t = Instant::now();
        let app = App::from_env().await.expect("the configuration");
        let from_env_us = micros(t);
        let t = Instant::now();
        app.warm_up().await;
        let warm_up_us = micros(t);
        let t = Instant::now();
        app.warm_up().await;
        let second_us = micros(t);
        let t = Instant::now();
        let roots = rustls_native_certs::load_native_certs();
        let roots_us = micros(t);
        println!(
            "{}",
            json!({"runtime_us": runtime_us, "from_env_us": from_env_us, "warm_up_us": warm_up_us,
                   "second_us": second_us, "roots_us": roots_us, "roots": roots.certs.len()})
        );
    });
}

/// The steps `init-probe` times, as its JSON names them.
const PROBE_STEPS: [&str; 5] = [
    "runtime_us",
    "from_env_us",
    "warm_up_us",
    "second_us",
    "roots_us",
];

/// Medians of `init-probe` over `runs` fresh processes.
pub async fn init_breakdown(settings: &Settings, runs: usize) -> String {
    let exe = std::env::current_exe().expect("this binary");
    let mut samples: HashMap<&'static str, Vec<Duration>> = HashMap::new();
    let mut roots = 0;
    for _ in 0..runs {
        let output = tokio::process::Command::new(&exe)
            .arg("init-probe")
            .env("TABLE_NAME", &settings.table)
            .output()
            .await
            .expect("run init-probe");
        let line: Value = serde_json::from_slice(&output.stdout).expect("init-probe's JSON");
        for key in PROBE_STEPS {
            samples
                .entry(key)
                .or_default()
                .push(Duration::from_micros(line[key].as_u64().unwrap_or(0)));
        }
        roots = line["roots"].as_u64().unwrap_or(0);
    }
    let mut m = |key: &str| ms(median(samples.remove(key).unwrap_or_default()));
    format!(
        "Init steps in a fresh process (median of {runs}): Tokio runtime {}, App::from_env (SDK config, HTTPS client) {},\n\
         \x20 App::warm_up, the first DynamoDB call (rustls config from Amazon's 5 roots, TCP connect, credentials, GetItem) {},\n\
         \x20 a second call {}; for comparison, loading the system's {roots} root certificates (which the functions skip) takes {}\n",
        m("runtime_us"),
        m("from_env_us"),
        m("warm_up_us"),
        m("second_us"),
        m("roots_us"),
    )
}

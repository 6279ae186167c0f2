//! Section 4, cold start: each release function binary and `hello-lambda`
//! (the baseline) started through the Runtime API emulator ([`lambda_harness::runtime_api`])
//! with a real first request: init, first answer, binary size, peak RSS.
//! `get-openapi`'s first request is `GET /api/v1/docs`.

use std::fmt::Write as _;
use std::time::Duration;

use lambda_harness::runtime_api as emulator;
use lambda_http::http::Method;
use serde_json::json;
use shared::domain::model::ClientId;
use shared::App;

use crate::format::{median, ms};
use crate::request::{get, prepare, send_ok};
use crate::seed::Org;
use crate::settings::{say, Settings};

pub struct ColdRow {
    name: String,
    size: u64,
    ready: Duration,
    answered: Duration,
    rss_kib: u64,
    status: String,
}

pub async fn cold_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    org: &Org,
) -> Vec<ColdRow> {
    let env = lambda_env(settings);
    let events = FirstEvents {
        key: &org.key,
        victims: create_victims(settings, base, org).await,
        existing: org.clients[1].id,
        cold_runs: settings.cold_runs,
    };
    let mut rows = Vec::new();
    let names: Vec<&str> = std::iter::once("hello-lambda")
        .chain(lambda_harness::functions::table_binaries())
        .chain(std::iter::once("get-openapi"))
        .collect();
    for name in names {
        rows.push(cold_row(settings, name, &env, &events).await);
    }
    rows
}

/// The environment Lambda gives a function: DynamoDB Local's endpoint and
/// credentials, and the table.
fn lambda_env(settings: &Settings) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_EC2_METADATA_DISABLED",
    ]
    .iter()
    .filter_map(|v| std::env::var(v).ok().map(|value| (v.to_string(), value)))
    .collect();
    env.push(("TABLE_NAME".into(), settings.table.clone()));
    env
}

/// Clients for the update and delete events: one per run.
async fn create_victims(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    org: &Org,
) -> Vec<String> {
    let app = App::new(base.clone(), &settings.config());
    let mut victims = Vec::new();
    for i in 0..settings.cold_runs * 2 {
        let body = json!({"name": format!("Cold {i}")});
        let created = send_ok(
            &app,
            &prepare(Method::POST, "/api/v1/clients", &org.key, Some(&body)),
            201,
            "create",
        )
        .await;
        victims.push(created["data"]["id"].as_str().expect("an id").to_owned());
    }
    victims
}

/// The first event each binary answers: a real request of its kind.
struct FirstEvents<'a> {
    key: &'a str,
    /// The clients updated (the first `cold_runs`) and deleted (the rest).
    victims: Vec<String>,
    existing: ClientId,
    cold_runs: usize,
}

impl FirstEvents<'_> {
    /// The event for `run` of the binary `name` (`hello-lambda`: a get).
    fn event(&self, name: &str, run: usize) -> String {
        let key = self.key;
        let prepared = match name {
            "list-clients" => get("/api/v1/clients?limit=50", key),
            "create-client" => prepare(
                Method::POST,
                "/api/v1/clients",
                key,
                Some(&json!({"name": "Cold Start"})),
            ),
            "update-client" => prepare(
                Method::PATCH,
                &format!("/api/v1/clients/{}", self.victims[run]),
                key,
                Some(&json!({"notes": "cold"})),
            ),
            // The docs page: its first request builds the page (the heaviest first answer).
            "get-openapi" => get("/api/v1/docs", key),
            "delete-client" => prepare(
                Method::DELETE,
                &format!("/api/v1/clients/{}", self.victims[self.cold_runs + run]),
                key,
                None,
            ),
            _ => get(&format!("/api/v1/clients/{}", self.existing), key),
        };
        prepared.event
    }
}

/// `cold_runs` cold starts of the binary `name`, as medians.
async fn cold_row(
    settings: &Settings,
    name: &str,
    env: &[(String, String)],
    events: &FirstEvents<'_>,
) -> ColdRow {
    let binary = settings.bin_dir.join(name);
    let size = std::fs::metadata(&binary)
        .unwrap_or_else(|e| panic!("{}: {e} (build it in release first)", binary.display()))
        .len();
    say(format!("cold start: {name} × {}", settings.cold_runs));
    let (mut ready, mut answered, mut rss, mut statuses) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..settings.cold_runs {
        let event = events.event(name, run);
        match emulator::cold_start(&binary, env, &event).await {
            Ok(c) => {
                ready.push(c.ready);
                answered.push(c.answered);
                rss.push(c.peak_rss_kib);
                statuses.push(c.status.map_or("?".to_owned(), |s| s.to_string()));
            }
            Err(error) => panic!("cold start of {name}: {error}"),
        }
    }
    rss.sort_unstable();
    statuses.dedup();
    ColdRow {
        name: name.to_owned(),
        size,
        ready: median(ready),
        answered: median(answered),
        rss_kib: rss[rss.len() / 2],
        status: statuses.join(","),
    }
}

/// The cold-start table, and the goals it misses (init ≤ 1.2× hello-lambda,
/// binary ≤ 8 MB, RSS ≤ 32 MB).
pub fn cold_table(settings: &Settings, rows: &[ColdRow]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut misses = Vec::new();
    let hello = rows
        .iter()
        .find(|r| r.name == "hello-lambda")
        .expect("the baseline");
    let _ = writeln!(
        out,
        "Cold start through a local Runtime API emulator (median of {} runs; first event: a real request,\n\
         key look-up included); binaries from {}. Goals: init ≤ 1.2× hello-lambda, binary ≤ 8 MB, RSS ≤ 32 MB.",
        settings.cold_runs,
        settings.bin_dir.display()
    );
    let _ = writeln!(
        out,
        "{:<14} {:>10} {:>11} {:>7} {:>15} {:>10} {:>7}",
        "binary", "size", "init", "×hello", "first answered", "peak RSS", "status"
    );
    for row in rows {
        let ratio = row.ready.as_secs_f64() / hello.ready.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "{:<14} {:>7.2} MB {:>11} {:>6.2}× {:>15} {:>7.1} MB {:>7}",
            row.name,
            row.size as f64 / 1e6,
            ms(row.ready),
            ratio,
            ms(row.answered),
            row.rss_kib as f64 / 1024.0,
            row.status
        );
        if row.name != "hello-lambda" {
            misses.extend(goal_misses(row, ratio));
        }
    }
    (out, misses)
}

/// The goals a function's row misses; `ratio` is its init over hello-lambda's.
fn goal_misses(row: &ColdRow, ratio: f64) -> Vec<String> {
    let mut misses = Vec::new();
    if ratio > 1.2 {
        misses.push(format!("init of {}: {:.2}× hello-lambda", row.name, ratio));
    }
    if row.size > 8_000_000 {
        misses.push(format!(
            "size of {}: {:.2} MB",
            row.name,
            row.size as f64 / 1e6
        ));
    }
    if row.rss_kib > 32 * 1024 {
        misses.push(format!(
            "RSS of {}: {:.1} MB",
            row.name,
            row.rss_kib as f64 / 1024.0
        ));
    }
    misses
}

//! Section 6, flood: 8, 16, 32, 64 and 128 concurrent HTTP writers
//! (`BENCH_FLOOD_LEVELS`) creating clients through a real `local-api`
//! process (the release binary, [`api_process`]) whose DynamoDB is the
//! DynamoDB-faithful proxy (`dynamodb-proxy`, [`ProxyConfig::faithful`]) in
//! front of the bench's DynamoDB Local, for `BENCH_FLOOD_SECONDS` per level,
//! into ONE organization and spread (each writer its own organization).
//!
//! Each writer holds one keep-alive HTTP/1.1 connection ([`http`]) and sends
//! `POST /api/v1/clients` without `Idempotency-Key`, each with a name of its
//! own (`flood <shape> <level> <writer> <n>`, `n` zero-padded so a search
//! for one name matches only it), and keeps every answer: status, latency,
//! `Retry-After`, and for a 503 which of the two sentences it says
//! ("nothing was changed" or "may or may not have been applied").
//!
//! After `BENCH_FLOOD_DRAIN` seconds, the [`audit`] lists every organization
//! by cursor (the ground truth) and searches every client listed by its exact
//! name. Per level and shape the table gives the answers by status, with how
//! many of each were applied (the client exists), p50/p99 of the 201s and
//! p99/max of the 503s, goodput (201/s), clients found by search over
//! clients that exist, and whether the totals are exact (every list's
//! `total` equals the clients listed, and those equal the 201s plus the
//! applied 503s). The goals (issue 17): no 409, no 5xx but 503, every
//! refusal true, every 503 within 1 s and with `Retry-After`, every client
//! found, totals exact, and goodput at the highest level ≥ 0.8× the best
//! level's, in each shape.

use std::fmt::Write as _;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynamodb_proxy::{Proxy, ProxyConfig, Summary};
use hyper::Method;
use serde_json::json;
use shared::domain::model::OrgId;
use shared::store::admin::keys::KeyAdmin;
use shared::store::Table;

use crate::api_process::LocalApi;
use crate::audit::{audit, Truth, SEARCH_AGAIN_AFTER};
use crate::format::ms;
use crate::http::Connection;
use crate::settings::{env_or, say};

/// The slowest a 503 may be (issue 17: refused quickly, within 1 s).
const REFUSAL_WITHIN: Duration = Duration::from_secs(1);
/// Goodput at the highest level over the best level's, at least.
const GOODPUT_KEPT: f64 = 0.8;
/// Connections the audit reads over.
const AUDIT_WIDTH: usize = 8;

/// The section's settings (environment).
pub struct FloodSettings {
    /// `BENCH_FLOOD_LEVELS`: concurrent writers per run [8,16,32,64,128].
    pub levels: Vec<usize>,
    /// `BENCH_FLOOD_SECONDS`: how long each run sends [15].
    pub seconds: f64,
    /// `BENCH_FLOOD_DRAIN`: the pause between a run's last answer and its audit [5].
    pub drain: f64,
    /// The bench table.
    pub table: String,
    /// Where the release `local-api` is.
    pub bin_dir: PathBuf,
}

impl FloodSettings {
    /// Reads the settings; `table` and `bin_dir` are the bench's.
    pub fn from_env(table: String, bin_dir: PathBuf) -> Self {
        let levels =
            std::env::var("BENCH_FLOOD_LEVELS").unwrap_or_else(|_| "8,16,32,64,128".into());
        Self {
            levels: levels
                .split(',')
                .map(|l| {
                    l.trim()
                        .parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .unwrap_or_else(|| panic!("BENCH_FLOOD_LEVELS={levels:?}: positive numbers separated by commas"))
                })
                .collect(),
            seconds: env_or("BENCH_FLOOD_SECONDS", 15.0),
            drain: env_or("BENCH_FLOOD_DRAIN", 5.0),
            table,
            bin_dir,
        }
    }

    /// Where the `local-api` processes write their output.
    fn log_path(&self) -> PathBuf {
        self.bin_dir
            .parent()
            .unwrap_or(&self.bin_dir)
            .join("bench-flood-local-api.log")
    }
}

/// Where the writers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every writer into one organization.
    One,
    /// Each writer into its own organization.
    Spread,
}

impl Shape {
    fn label(self) -> &'static str {
        match self {
            Shape::One => "one",
            Shape::Spread => "spread",
        }
    }
}

/// What a 503 said may have been changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    NothingChanged,
    MaybeApplied,
    /// Neither sentence.
    Neither,
}

/// An answer, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Created,
    Conflict,
    Internal,
    Unavailable(Said),
    /// Any other 5xx.
    OtherServerError(u16),
    /// Any other status.
    Other(u16),
    /// No answer (connection failed or no answer within the timeout).
    NoAnswer,
}

/// One create a writer sent, and its answer.
struct Answer {
    name: String,
    kind: Kind,
    latency: Duration,
    retry_after: bool,
    /// The error's code and message, or why there was no answer (not kept for a 201).
    detail: String,
}

/// One run: a shape at a level.
pub struct Run {
    shape: Shape,
    writers: usize,
    /// From the first request to the last answer.
    elapsed: Duration,
    answers: Vec<Answer>,
    /// Connections the writers opened (`writers` when keep-alive held throughout).
    connections: u64,
    /// The proxy's counts over the run and its drain.
    proxy: Summary,
    truth: Result<Truth, String>,
}

/// The runs done, and why the section stopped early if it did.
pub struct Flood {
    settings: FloodSettings,
    runs: Vec<Run>,
    failure: Option<String>,
}

/// Runs every shape at every level; a failure to set a run up ends the
/// section with the reason (the runs done so far are kept).
pub async fn flood_section(settings: FloodSettings) -> Flood {
    let mut flood = Flood {
        settings,
        runs: Vec::new(),
        failure: None,
    };
    if let Err(failure) = run_all(&mut flood).await {
        say(format!("flood: {failure}"));
        flood.failure = Some(failure);
    }
    flood
}

async fn run_all(flood: &mut Flood) -> Result<(), String> {
    let settings = &flood.settings;
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .map_err(|_| "AWS_ENDPOINT_URL_DYNAMODB is not set".to_owned())?;
    let proxy = Proxy::start(ProxyConfig::faithful(upstream))
        .await
        .map_err(|e| format!("start the proxy: {e}"))?;
    // Keys are made directly in DynamoDB Local, not through the proxy.
    let table = Table::new(shared::store::connect().await, &settings.table);
    let log_path = settings.log_path();
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    for shape in [Shape::One, Shape::Spread] {
        for &writers in &settings.levels {
            say(format!(
                "flood: {writers} writers, {} organization(s), {} s",
                if shape == Shape::One { 1 } else { writers },
                settings.seconds
            ));
            let run = run_level(settings, &proxy, &table, &log, shape, writers).await?;
            flood.runs.push(run);
        }
    }
    Ok(())
}

async fn run_level(
    settings: &FloodSettings,
    proxy: &Proxy,
    table: &Table,
    log: &File,
    shape: Shape,
    writers: usize,
) -> Result<Run, String> {
    let organizations = if shape == Shape::One { 1 } else { writers };
    let keys = tenants(table, organizations).await?;
    let api = LocalApi::start(
        &settings.bin_dir.join("local-api"),
        &settings.table,
        &proxy.endpoint(),
        log,
    )
    .await?;
    check_serving(&api, &keys[0]).await?;
    proxy.reset_summary();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(settings.seconds);
    let keys = Arc::new(keys);
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..writers {
        let keys = Arc::clone(&keys);
        let address = api.address;
        tasks.spawn(async move {
            let key = &keys[writer % keys.len()];
            write_until(address, key, shape, writers, writer, deadline).await
        });
    }
    let (mut answers, mut connections) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (mine, opened) = done.map_err(|e| format!("a writer failed: {e}"))?;
        answers.extend(mine);
        connections += opened;
    }
    let elapsed = started.elapsed();
    say(format!(
        "flood: {} answers in {:.1} s; draining {} s, then the audit",
        answers.len(),
        elapsed.as_secs_f64(),
        settings.drain
    ));
    tokio::time::sleep(Duration::from_secs_f64(settings.drain)).await;
    let summary = proxy.summary();
    let truth = audit(api.address, &keys, AUDIT_WIDTH).await;
    api.stop().await;
    Ok(Run {
        shape,
        writers,
        elapsed,
        answers,
        connections,
        proxy: summary,
        truth,
    })
}

/// `count` fresh organizations; an API key of each.
async fn tenants(table: &Table, count: usize) -> Result<Vec<String>, String> {
    let store = KeyAdmin::new(table.clone());
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        let org: OrgId = format!("flood-{}", uuid::Uuid::now_v7().simple())
            .parse()
            .map_err(|e| format!("an org id: {e:?}"))?;
        let (key, _) = store
            .create_key(&org, "flood")
            .await
            .map_err(|e| format!("an API key: {e}"))?;
        keys.push(key.key);
    }
    Ok(keys)
}

/// Fails unless the API lists the first organization (right table, key accepted).
async fn check_serving(api: &LocalApi, key: &str) -> Result<(), String> {
    let mut connection = Connection::new(api.address);
    match connection
        .send(Method::GET, "/api/v1/clients?limit=1", key, None)
        .await
    {
        Ok(reply) if reply.status == 200 => Ok(()),
        Ok(reply) => Err(format!(
            "local-api answered a first list with {} {}",
            reply.status, reply.body
        )),
        Err(error) => Err(format!("local-api did not answer a first list: {error}")),
    }
}

/// One writer: creates until `deadline` over one connection; its answers
/// and the connections it opened.
async fn write_until(
    address: std::net::SocketAddr,
    key: &str,
    shape: Shape,
    level: usize,
    writer: usize,
    deadline: Instant,
) -> (Vec<Answer>, u64) {
    let mut connection = Connection::new(address);
    let mut answers = Vec::new();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let name = format!("flood {} {level} {writer} {n:06}", shape.label());
        n += 1;
        let body = json!({"name": name, "phone": "+1 555-0199"});
        let sent = Instant::now();
        let reply = connection
            .send(Method::POST, "/api/v1/clients", key, Some(&body))
            .await;
        let latency = sent.elapsed();
        let answer = match reply {
            Ok(reply) => {
                let kind = classify(reply.status, reply.body["error"]["message"].as_str());
                let detail = if kind == Kind::Created {
                    String::new()
                } else {
                    format!(
                        "{} {}: {}",
                        reply.status,
                        reply.body["error"]["code"].as_str().unwrap_or("?"),
                        reply.body["error"]["message"]
                            .as_str()
                            .unwrap_or("(no error message)")
                    )
                };
                Answer {
                    name,
                    kind,
                    latency,
                    retry_after: reply.retry_after,
                    detail,
                }
            }
            Err(error) => Answer {
                name,
                kind: Kind::NoAnswer,
                latency,
                retry_after: false,
                detail: error,
            },
        };
        answers.push(answer);
    }
    (answers, connection.opened)
}

/// An answer's class, from its status and, for a 503, its message.
fn classify(status: u16, message: Option<&str>) -> Kind {
    match status {
        201 => Kind::Created,
        409 => Kind::Conflict,
        500 => Kind::Internal,
        503 => {
            let message = message.unwrap_or_default();
            Kind::Unavailable(if message.contains("nothing was changed") {
                Said::NothingChanged
            } else if message.contains("may or may not have been applied") {
                Said::MaybeApplied
            } else {
                Said::Neither
            })
        }
        501..=502 | 504..=599 => Kind::OtherServerError(status),
        _ => Kind::Other(status),
    }
}

/// How many answers of a class there were, and how many of those were
/// applied (their client exists; `None` when the audit failed).
#[derive(Clone, Copy)]
struct Count {
    answers: u64,
    applied: Option<u64>,
}

impl Default for Count {
    fn default() -> Self {
        Self {
            answers: 0,
            applied: Some(0),
        }
    }
}

impl Count {
    fn add(&mut self, applied: Option<bool>) {
        self.answers += 1;
        self.applied = self.applied.zip(applied).map(|(n, a)| n + u64::from(a));
    }

    fn applied(&self) -> u64 {
        self.applied.unwrap_or(0)
    }

    /// `N`, or `N (A)` with `A` applied.
    fn cell(&self) -> String {
        match self.applied {
            _ if self.answers == 0 => "0".into(),
            Some(0) => self.answers.to_string(),
            Some(a) => format!("{} ({a})", self.answers),
            None => format!("{} (?)", self.answers),
        }
    }
}

/// A run's answers, by class, against the audit.
#[derive(Default)]
struct Tally {
    created: Count,
    conflict: Count,
    internal: Count,
    other_5xx: Count,
    nothing_changed: Count,
    maybe_applied: Count,
    /// 503s saying neither sentence.
    unsaid: Count,
    other: Count,
    without_retry_after: u64,
    created_latency: Vec<Duration>,
    refused_latency: Vec<Duration>,
    /// An example detail per unusual class.
    examples: Vec<String>,
}

impl Tally {
    fn of(run: &Run) -> Self {
        let names = run.truth.as_ref().ok().map(Truth::names);
        let mut tally = Tally::default();
        for answer in &run.answers {
            let applied = names.as_ref().map(|n| n.contains_key(answer.name.as_str()));
            let count = match answer.kind {
                Kind::Created => {
                    tally.created_latency.push(answer.latency);
                    &mut tally.created
                }
                Kind::Conflict => &mut tally.conflict,
                Kind::Internal => &mut tally.internal,
                Kind::OtherServerError(_) => &mut tally.other_5xx,
                Kind::Unavailable(said) => {
                    tally.refused_latency.push(answer.latency);
                    if !answer.retry_after {
                        tally.without_retry_after += 1;
                    }
                    match said {
                        Said::NothingChanged => &mut tally.nothing_changed,
                        Said::MaybeApplied => &mut tally.maybe_applied,
                        Said::Neither => &mut tally.unsaid,
                    }
                }
                Kind::Other(_) | Kind::NoAnswer => &mut tally.other,
            };
            let first = count.answers == 0;
            count.add(applied);
            let unusual = !matches!(
                answer.kind,
                Kind::Created | Kind::Unavailable(Said::NothingChanged | Said::MaybeApplied)
            );
            if first && unusual {
                tally.examples.push(answer.detail.clone());
            }
        }
        tally.created_latency.sort_unstable();
        tally.refused_latency.sort_unstable();
        tally
    }

    /// The 503s whose client exists.
    fn refused_applied(&self) -> u64 {
        self.nothing_changed.applied() + self.maybe_applied.applied() + self.unsaid.applied()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[index])
}

fn ms_or_dash(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), ms)
}

/// What the audit says of a run: found/exist, whether the totals are exact
/// (and if not, why), and the 201s whose client is missing.
struct Verdict {
    found: String,
    unfound: usize,
    totals: Result<(), String>,
    lost: u64,
}

fn verdict(run: &Run, tally: &Tally) -> Verdict {
    let truth = match &run.truth {
        Ok(truth) => truth,
        Err(error) => {
            return Verdict {
                found: "?".into(),
                unfound: 0,
                totals: Err(format!("audit failed: {error}")),
                lost: 0,
            }
        }
    };
    let listed = truth.listed() as u64;
    let lost = tally.created.answers - tally.created.applied();
    let mut wrong = Vec::new();
    for (index, org) in truth.orgs.iter().enumerate() {
        if org.total != org.clients.len() as u64 {
            wrong.push(format!(
                "org {index}: total {} but {} listed",
                org.total,
                org.clients.len()
            ));
        }
        if org.repeated > 0 {
            wrong.push(format!("org {index}: {} ids listed twice", org.repeated));
        }
    }
    let expected = tally.created.answers + tally.refused_applied();
    if listed != expected {
        wrong.push(format!("{listed} listed, 201s + applied 503s = {expected}"));
    }
    // The sum can hide a lost 201 behind an applied 409: each is named too.
    if lost > 0 {
        wrong.push(format!("{lost} 201s not listed"));
    }
    let explained = tally.created.applied() + tally.refused_applied();
    if listed > explained {
        wrong.push(format!(
            "{} listed clients answered neither 201 nor 503",
            listed - explained
        ));
    }
    Verdict {
        found: format!("{}/{}", truth.searched - truth.not_found.len(), listed),
        unfound: truth.not_found.len(),
        totals: if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        },
        lost,
    }
}

/// The section's tables and the goals it misses.
pub fn flood_table(flood: &Flood) -> (String, Vec<String>) {
    let settings = &flood.settings;
    let mut out = String::new();
    let mut misses = Vec::new();
    let _ = writeln!(
        out,
        "Flood: concurrent HTTP writers creating clients (no Idempotency-Key, distinct names), each over one keep-alive\n\
         connection, through {} and the DynamoDB-faithful proxy, {} s per run, {} s drain, then every\n\
         organization listed by cursor and every client listed searched by name. (n) = of those, applied (the client exists).",
        settings.bin_dir.join("local-api").display(),
        settings.seconds,
        settings.drain
    );
    let _ = writeln!(
        out,
        "{:<6} {:>7} {:>7} {:>6} {:>9} {:>9} {:>9} {:>13} {:>13} {:>9} {:>9} {:>9}",
        "shape",
        "writers",
        "answers",
        "201",
        "409",
        "500",
        "other 5xx",
        "503 nothing",
        "503 maybe",
        "other",
        "conflicts",
        "throttles"
    );
    let tallies: Vec<Tally> = flood.runs.iter().map(Tally::of).collect();
    for (run, tally) in flood.runs.iter().zip(&tallies) {
        let _ = writeln!(
            out,
            "{:<6} {:>7} {:>7} {:>6} {:>9} {:>9} {:>9} {:>13} {:>13} {:>9} {:>9} {:>9}",
            run.shape.label(),
            run.writers,
            run.answers.len(),
            tally.created.answers,
            tally.conflict.cell(),
            tally.internal.cell(),
            tally.other_5xx.cell(),
            tally.nothing_changed.cell(),
            tally.maybe_applied.cell(),
            {
                let mut other = tally.other;
                other.answers += tally.unsaid.answers;
                other.applied = other.applied.zip(tally.unsaid.applied).map(|(a, b)| a + b);
                other.cell()
            },
            run.proxy.transactions_cancelled + run.proxy.plain_conflicts,
            run.proxy.throttles_total(),
        );
    }
    let _ = writeln!(
        out,
        "\n{:<6} {:>7} {:>8} {:>6} {:>11} {:>11} {:>11} {:>11} {:>11} {:>6}  totals",
        "shape",
        "writers",
        "201/s",
        "×best",
        "201 p50",
        "201 p99",
        "503 p99",
        "503 max",
        "found/exist",
        "conns"
    );
    for shape in [Shape::One, Shape::Spread] {
        let runs: Vec<(&Run, &Tally)> = flood
            .runs
            .iter()
            .zip(&tallies)
            .filter(|(r, _)| r.shape == shape)
            .collect();
        let goodput = |(run, tally): &(&Run, &Tally)| {
            tally.created.answers as f64 / run.elapsed.as_secs_f64().max(1e-9)
        };
        let best = runs
            .iter()
            .map(|r| (goodput(r), r.0.writers))
            .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
        for entry in &runs {
            let (run, tally) = entry;
            let verdict = verdict(run, tally);
            let rate = goodput(entry);
            let _ = writeln!(
                out,
                "{:<6} {:>7} {:>8.1} {:>5.2}× {:>11} {:>11} {:>11} {:>11} {:>11} {:>6}  {}",
                run.shape.label(),
                run.writers,
                rate,
                rate / best.0.max(1e-9),
                ms_or_dash(percentile(&tally.created_latency, 0.5)),
                ms_or_dash(percentile(&tally.created_latency, 0.99)),
                ms_or_dash(percentile(&tally.refused_latency, 0.99)),
                ms_or_dash(tally.refused_latency.last().copied()),
                verdict.found,
                run.connections,
                match &verdict.totals {
                    Ok(()) => "exact".to_owned(),
                    Err(why) => format!("WRONG: {why}"),
                }
            );
            misses.extend(run_misses(run, tally, &verdict));
        }
        if let (Some(last), true) = (runs.last(), best.0 > 0.0) {
            let ratio = goodput(last) / best.0;
            let _ = writeln!(
                out,
                "{:<6} goodput at {} writers ÷ best ({:.1}/s at {}): {ratio:.2} (goal ≥ {GOODPUT_KEPT})",
                shape.label(),
                last.0.writers,
                best.0,
                best.1
            );
            if ratio < GOODPUT_KEPT {
                misses.push(format!(
                    "flood {}: goodput at {} writers is {ratio:.2}× the best level's (goal ≥ {GOODPUT_KEPT})",
                    shape.label(),
                    last.0.writers
                ));
            }
        }
    }
    let mut notes = Vec::new();
    for (run, tally) in flood.runs.iter().zip(&tallies) {
        let label = format!("{} {}", run.shape.label(), run.writers);
        for example in &tally.examples {
            notes.push(format!("{label}: e.g. {example}"));
        }
        if let Ok(truth) = &run.truth {
            if let Some(name) = truth.not_found.first() {
                notes.push(format!(
                    "{label}: {} clients not found by name, nor {} s later, e.g. {name:?}",
                    truth.not_found.len(),
                    SEARCH_AGAIN_AFTER.as_secs()
                ));
            }
            if truth.found_late > 0 {
                notes.push(format!(
                    "{label}: {} clients found by name only when searched again {} s later",
                    truth.found_late,
                    SEARCH_AGAIN_AFTER.as_secs()
                ));
            }
        }
        let creates = run.answers.len().max(1) as f64;
        notes.push(format!(
            "{label}: DynamoDB calls answered while local-api waited {} ({:.1}/create: {}); \
             InternalServerError injected {} before and {} after applying; \
             index views: {} writes applied, {} failed",
            run.proxy.forwarded_total(),
            run.proxy.forwarded_total() as f64 / creates,
            run.proxy
                .forwarded
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            run.proxy.server_errors_before_forwarding,
            run.proxy.server_errors_after_forwarding,
            run.proxy.index_view_writes,
            run.proxy.index_view_failures,
        ));
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
        for note in notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    if let Some(failure) = &flood.failure {
        let _ = writeln!(out, "Flood FAILED: {failure}");
        misses.push(format!("flood: failed: {failure}"));
    }
    let _ = writeln!(out, "(local-api's log: {})", settings.log_path().display());
    (out, misses)
}

/// The goals one run misses.
fn run_misses(run: &Run, tally: &Tally, verdict: &Verdict) -> Vec<String> {
    let label = format!("flood {} {} writers", run.shape.label(), run.writers);
    let mut misses = Vec::new();
    let mut check = |count: u64, what: &str| {
        if count > 0 {
            misses.push(format!("{label}: {count} × {what}"));
        }
    };
    check(tally.conflict.answers, "409");
    check(tally.internal.answers, "500");
    check(tally.other_5xx.answers, "other 5xx");
    check(
        tally.unsaid.answers,
        "503 saying neither what was nor what may have been changed",
    );
    check(tally.other.answers, "other answer or none");
    check(
        tally.nothing_changed.applied(),
        "503 'nothing was changed' whose client exists",
    );
    check(verdict.lost, "201 whose client is not listed");
    check(verdict.unfound as u64, "client not found by its name");
    if let Ok(truth) = &run.truth {
        check(
            truth.found_late as u64,
            "client found by its name only when searched again later",
        );
    }
    check(tally.without_retry_after, "503 without Retry-After");
    if let Some(slowest) = tally.refused_latency.last() {
        if *slowest > REFUSAL_WITHIN {
            misses.push(format!(
                "{label}: slowest 503 took {} (goal ≤ 1 s)",
                ms(*slowest)
            ));
        }
    }
    if let Err(why) = &verdict.totals {
        misses.push(format!("{label}: totals {why}"));
    }
    misses
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Listed, OrgTruth};

    #[test]
    fn classify_tells_the_two_503_sentences_apart() {
        assert_eq!(
            classify(503, Some("The service is temporarily unavailable and nothing was changed; retry after a moment.")),
            Kind::Unavailable(Said::NothingChanged)
        );
        assert_eq!(
            classify(503, Some("The service is temporarily unavailable, and this change may or may not have been applied: repeat it")),
            Kind::Unavailable(Said::MaybeApplied)
        );
        assert_eq!(classify(503, None), Kind::Unavailable(Said::Neither));
        assert_eq!(classify(502, None), Kind::OtherServerError(502));
        assert_eq!(classify(429, None), Kind::Other(429));
        assert_eq!(classify(201, None), Kind::Created);
    }

    fn answer(name: &str, kind: Kind, millis: u64) -> Answer {
        Answer {
            name: name.into(),
            kind,
            latency: Duration::from_millis(millis),
            retry_after: true,
            detail: format!("{kind:?}"),
        }
    }

    fn listed(names: &[&str]) -> OrgTruth {
        OrgTruth {
            total: names.len() as u64,
            clients: names
                .iter()
                .enumerate()
                .map(|(i, name)| Listed {
                    id: i.to_string(),
                    name: (*name).into(),
                })
                .collect(),
            repeated: 0,
        }
    }

    fn run(answers: Vec<Answer>, orgs: Vec<OrgTruth>, not_found: Vec<String>) -> Run {
        let searched = orgs.iter().map(|o| o.clients.len()).sum();
        Run {
            shape: Shape::One,
            writers: 2,
            elapsed: Duration::from_secs(1),
            answers,
            connections: 2,
            proxy: Summary::default(),
            truth: Ok(Truth {
                orgs,
                searched,
                not_found,
                found_late: 0,
            }),
        }
    }

    #[test]
    fn honest_answers_and_a_listing_that_matches_them_meet_every_goal() {
        let run = run(
            vec![
                answer("a", Kind::Created, 10),
                answer("b", Kind::Unavailable(Said::MaybeApplied), 900),
                answer("c", Kind::Unavailable(Said::MaybeApplied), 900),
                answer("d", Kind::Unavailable(Said::NothingChanged), 5),
            ],
            vec![listed(&["a", "b"])],
            vec![],
        );
        let tally = Tally::of(&run);
        let verdict = verdict(&run, &tally);

        assert_eq!(tally.maybe_applied.cell(), "2 (1)");
        assert_eq!(verdict.found, "2/2");
        assert_eq!(verdict.totals, Ok(()));
        assert_eq!(run_misses(&run, &tally, &verdict), Vec::<String>::new());
    }

    #[test]
    fn a_lie_a_lost_create_an_unfound_client_and_a_slow_refusal_are_each_a_miss() {
        let run = run(
            vec![
                answer("a", Kind::Created, 10),
                answer("lost", Kind::Created, 10),
                answer("b", Kind::Unavailable(Said::NothingChanged), 1500),
                answer("c", Kind::Conflict, 10),
            ],
            vec![listed(&["a", "b", "c"])],
            vec!["a".into()],
        );
        let tally = Tally::of(&run);
        let verdict = verdict(&run, &tally);
        let misses = run_misses(&run, &tally, &verdict);

        assert_eq!(tally.nothing_changed.cell(), "1 (1)");
        assert_eq!(tally.conflict.cell(), "1 (1)");
        assert_eq!(verdict.lost, 1);
        assert_eq!(verdict.found, "2/3");
        let expect = [
            "1 × 409",
            "1 × 503 'nothing was changed' whose client exists",
            "1 × 201 whose client is not listed",
            "1 × client not found by its name",
            "slowest 503 took 1500.00 ms",
            "totals 1 201s not listed; 1 listed clients answered neither 201 nor 503",
        ];
        for miss in expect {
            assert!(
                misses.iter().any(|m| m.contains(miss)),
                "{miss:?} not among {misses:?}"
            );
        }
    }

    #[test]
    fn count_keeps_applied_unknown_once_any_answer_is_unknown() {
        let mut count = Count::default();
        count.add(Some(true));
        count.add(Some(false));
        assert_eq!(count.cell(), "2 (1)");
        count.add(None);
        assert_eq!(count.cell(), "3 (?)");
    }
}

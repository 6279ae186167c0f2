//! `bench`: the performance figures of docs/performance.md, each beside its
//! baseline measured in the same run. Run it with `scripts/bench`, which
//! builds it and the functions in release and starts DynamoDB Local.
//!
//! The sections, in the modules named, and the order they run in:
//!
//! 0. Set-up ([`seed`]): organizations of `BENCH_SIZES` clients, each with a key.
//! 1. Cost vs organization size ([`cost`]): sends every kind of request through the handlers,
//!    counted by the product's own counter (`shared::store::usage`: DynamoDB
//!    calls, items read and capacity units as DynamoDB reports them).
//! 2. Overhead ([`overhead`], with [`load`] and [`direct`]): requests/s and
//!    latency of get, create and a list page through the handlers vs the
//!    same DynamoDB calls made with the SDK.
//! 3. Warm-up ([`warmup`]): first-request latency of a fresh `App` with and without
//!    [`shared::App::warm_up`].
//! 4. Cold start ([`cold`]): each release function binary and `hello-lambda` through a
//!    Runtime API emulator ([`lambda_harness::runtime_api`]): init, first answer, size, peak RSS.
//! 5. Busy tenant ([`busy`]): 64 concurrent creators into one organization vs
//!    spread over 64, through the DynamoDB-faithful proxy, unsharded vs sharded counts.
//! 6. Flood ([`flood`], with [`api_process`], [`http`] and [`audit`]): 8–128
//!    concurrent HTTP writers through a release `local-api` process and the
//!    DynamoDB-faithful proxy, one organization and spread; every answer
//!    checked afterwards against the organizations listed by cursor and a
//!    search for every client by name.
//! 7. Rate limits ([`limits`]): 8 container processes flooding one organization at 10×
//!    its limit, a neighbour organization beside them, the limiter's calls
//!    and latency against the limiter off, one-letter searches held to a
//!    read-unit budget.
//!
//! Requests go through the handlers via [`request`] (the flood section: over
//! HTTP); [`format`] formats the tables. The report runs 2, 3, 4, 5, 6, 7, then 1
//! (see [`sections`]); each section's table is printed as soon as it is done.
//!
//! Settings (environment, [`settings`]): `BENCH_SIZES` (1000,10000,100000),
//! `BENCH_CONCURRENCY` (8), `BENCH_SECONDS` per load run (4), `BENCH_ROUNDS`
//! of direct/API runs (2), `BENCH_COLD_RUNS` (7), `BENCH_SECTIONS`
//! (cost,overhead,warmup,cold,busy,flood,limits), `BENCH_BUSY_WRITERS` (64),
//! `BENCH_FLOOD_LEVELS` (8,16,32,64,128), `BENCH_FLOOD_SECONDS` per run (15),
//! `BENCH_FLOOD_DRAIN` (5 s), `BENCH_BIN_DIR` (this binary's directory),
//! `BENCH_TABLE` (clients-bench). DynamoDB Local comes from
//! `AWS_ENDPOINT_URL_DYNAMODB`.

mod api_process;
mod audit;
mod busy;
mod cold;
mod cost;
mod direct;
mod flood;
mod format;
mod http;
mod limits;
mod load;
mod overhead;
mod request;
mod seed;
mod settings;
mod warmup;

use std::fmt::Write as _;

use shared::store::admin::table::create_table;
use shared::store::Table;

use settings::Settings;

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("init-probe") => return warmup::init_probe(),
        Some(limits::CONTAINER_COMMAND) => return limits::container(),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let settings = Settings::from_env();
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the benchmark with scripts/bench, which starts DynamoDB Local"
    );
    let base = shared::store::connect().await;
    let table = Table::new(base.clone(), &settings.table);
    create_table(&table).await.expect("create the bench table");

    let mut report = String::new();
    let _ = writeln!(report, "Machine: {}", format::machine());
    let needs_orgs = ["cost", "overhead", "warmup", "cold"]
        .iter()
        .any(|section| settings.runs(section));
    let orgs = if needs_orgs {
        seed::seed_orgs(&settings, &table, &mut report).await
    } else {
        Vec::new()
    };
    emit(&mut report);
    let misses = sections(&settings, &base, &orgs, &mut report).await;
    goals(&misses, &mut report);
    println!("{report}");
}

/// Prints what `report` holds so far (a section's table as soon as it is done).
fn emit(report: &mut String) {
    print!("{report}");
    report.clear();
}

/// Runs the sections asked for, in order, printing each one's table as it
/// ends; the goals they miss. Load, warm-up and cold starts run first, in
/// [`seed::load_org`], before the cost section's large searches.
async fn sections(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    orgs: &[seed::Org],
    report: &mut String,
) -> Vec<String> {
    let mut misses = Vec::new();
    let org = || seed::load_org(orgs);
    if settings.runs("overhead") {
        let mut rows = overhead::overhead_section(settings, base, org()).await;
        let (text, miss) = overhead::overhead_table(settings, &mut rows);
        let _ = writeln!(report, "{text}");
        misses.extend(miss);
        emit(report);
    }
    if settings.runs("warmup") {
        let _ = write!(report, "{}", warmup::warmup_section(settings, org()).await);
        let breakdown = warmup::init_breakdown(settings, settings.cold_runs.max(5)).await;
        let _ = writeln!(report, "{breakdown}");
        emit(report);
    }
    if settings.runs("cold") {
        let rows = cold::cold_section(settings, base, org()).await;
        let (text, miss) = cold::cold_table(settings, &rows);
        let _ = writeln!(report, "{text}");
        misses.extend(miss);
        emit(report);
    }
    if settings.runs("busy") {
        let mut rows = busy::busy_section(settings).await;
        let (text, miss) = busy::busy_table(&mut rows);
        let _ = writeln!(report, "{text}");
        misses.extend(miss);
        emit(report);
    }
    if settings.runs("flood") {
        let (text, miss) = flood_section(settings).await;
        let _ = writeln!(report, "{text}");
        misses.extend(miss);
        emit(report);
    }
    if settings.runs("limits") {
        let (text, miss) = limits::limits_section(settings, base).await;
        let _ = writeln!(report, "{text}");
        misses.extend(miss);
        emit(report);
    }
    if settings.runs("cost") {
        let sizes: Vec<usize> = orgs.iter().map(|o| o.size).collect();
        let rows = cost::cost_section(settings, base, orgs).await;
        let (text, miss) = cost::cost_table(&sizes, &rows);
        let _ = writeln!(report, "\n{text}");
        misses.extend(miss);
    }
    misses
}

/// The flood section's table and the goals it misses; it runs in a task of
/// its own, so that a panic in it is reported as the section's failure and
/// the other sections still report.
async fn flood_section(settings: &Settings) -> (String, Vec<String>) {
    let (table, bin_dir) = (settings.table.clone(), settings.bin_dir.clone());
    let section = tokio::spawn(async move {
        let flood = flood::flood_section(flood::FloodSettings::from_env(table, bin_dir)).await;
        flood::flood_table(&flood)
    });
    match section.await {
        Ok(table) => table,
        Err(error) => {
            let why = match error.try_into_panic() {
                Ok(panic) => panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a panic".into()),
                Err(error) => error.to_string(),
            };
            (
                format!("Flood FAILED: {why}"),
                vec![format!("flood: {why}")],
            )
        }
    }
}

/// The report's last lines: the goals missed, or that all were met.
fn goals(misses: &[String], report: &mut String) {
    if misses.is_empty() {
        let _ = writeln!(report, "Goals: all met.");
    } else {
        let _ = writeln!(report, "Goals missed:");
        for miss in misses {
            let _ = writeln!(report, "  - {miss}");
        }
    }
}

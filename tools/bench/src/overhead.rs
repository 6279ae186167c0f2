//! Section 2, overhead: requests/s and latency of a get, a create and a
//! first list page through the handlers, against the same DynamoDB calls
//! made directly with the SDK ([`crate::direct`]), in alternating runs.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::Method;
use serde_json::json;
use shared::domain::model::ClientId;
use shared::store::Table;
use shared::App;

use crate::direct;
use crate::format::ms;
use crate::load::{api_op, run_load, Load, Op};
use crate::request::{get, prepare, Prepared};
use crate::seed::Org;
use crate::settings::{say, Settings};

pub struct OverheadRow {
    label: &'static str,
    api: Load,
    direct: Load,
}

pub async fn overhead_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    org: &Org,
) -> Vec<OverheadRow> {
    let mut rows = Vec::new();
    for (label, api, direct) in kinds(settings, base, org) {
        say(format!("overhead: {label}"));
        rows.push(measure_kind(settings, label, api, direct).await);
    }
    rows
}

/// Each request kind: its label, its operation through the handlers, and
/// the same DynamoDB calls made directly.
fn kinds(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    org: &Org,
) -> [(&'static str, Op, Op); 3] {
    let app = Arc::new(App::new(base.clone(), &settings.config()));
    let table = Table::new(base.clone(), &settings.table);
    let ids: Arc<Vec<ClientId>> = Arc::new(
        org.clients
            .iter()
            .step_by(7)
            .take(5_000)
            .map(|c| c.id)
            .collect(),
    );
    let gets: Arc<Vec<Prepared>> = Arc::new(
        ids.iter()
            .map(|id| get(&format!("/api/v1/clients/{id}"), &org.key))
            .collect(),
    );
    let body =
        json!({"name": "Load Created", "phone": "+1 555-0101", "notes": "created under load"});
    let create = prepare(Method::POST, "/api/v1/clients", &org.key, Some(&body));
    let list = get("/api/v1/clients?limit=50", &org.key);
    let org_id = Arc::new(org.org.clone());
    [
        (
            "GET /clients/{id}",
            api_op(&app, gets, 200),
            direct::get_op(&table, &org_id, ids),
        ),
        (
            "POST /clients",
            api_op(&app, Arc::new(vec![create]), 201),
            direct::create_op(&table, &org_id),
        ),
        (
            "GET /clients?limit=50",
            api_op(&app, Arc::new(vec![list]), 200),
            direct::list_op(&table, &org_id),
        ),
    ]
}

/// Warms both paths, then `rounds` pairs of runs, alternating which goes first.
async fn measure_kind(
    settings: &Settings,
    label: &'static str,
    api: Op,
    direct: Op,
) -> OverheadRow {
    let duration = Duration::from_secs_f64(settings.seconds);
    // Warm both paths (connections, caches) before measuring.
    let warm = Duration::from_millis(500);
    run_load(settings.concurrency, warm, api.clone()).await;
    run_load(settings.concurrency, warm, direct.clone()).await;
    let mut row = OverheadRow {
        label,
        api: Load::default(),
        direct: Load::default(),
    };
    for round in 0..settings.rounds {
        // Alternate which goes first so drift in DynamoDB Local hits both alike.
        let order: [bool; 2] = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for is_api in order {
            let op = if is_api { api.clone() } else { direct.clone() };
            let load = run_load(settings.concurrency, duration, op).await;
            if is_api {
                row.api.merge(load)
            } else {
                row.direct.merge(load)
            }
        }
    }
    row
}

/// The overhead table, and the goals it misses (API below 90 % of direct).
pub fn overhead_table(settings: &Settings, rows: &mut [OverheadRow]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut misses = Vec::new();
    let _ = writeln!(
        out,
        "Overhead: through the handlers (API) vs the same DynamoDB calls made directly with the SDK;\n\
         concurrency {}, {} × {:.0} s per side, alternating; same DynamoDB Local. Goal: API ≥ 90 % of direct.",
        settings.concurrency, settings.rounds, settings.seconds
    );
    let _ = writeln!(
        out,
        "{:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "request", "API req/s", "p50", "p99", "direct/s", "p50", "p99", "ratio"
    );
    for row in rows.iter_mut() {
        let ratio = row.api.rate() / row.direct.rate().max(1e-9);
        if ratio < 0.90 {
            misses.push(format!("overhead {}: {:.0} %", row.label, ratio * 100.0));
        }
        let _ = writeln!(out, "{}", overhead_line(row, ratio));
    }
    (out, misses)
}

fn overhead_line(row: &mut OverheadRow, ratio: f64) -> String {
    let errors = if row.api.errors + row.direct.errors > 0 {
        format!(
            "  (errors: API {}, direct {})",
            row.api.errors, row.direct.errors
        )
    } else {
        String::new()
    };
    format!(
        "{:<24} {:>10.0} {:>10} {:>10} {:>10.0} {:>10} {:>10} {:>6.0}%{}",
        row.label,
        row.api.rate(),
        ms(row.api.percentile(0.5)),
        ms(row.api.percentile(0.99)),
        row.direct.rate(),
        ms(row.direct.percentile(0.5)),
        ms(row.direct.percentile(0.99)),
        ratio * 100.0,
        errors
    )
}

//! Section 1, cost vs organization size: every kind of request sent through
//! the handlers in each seeded organization, counted by the product's own
//! counter ([`shared::store::usage::measure`], the figures of each
//! request's closing log line and metrics): DynamoDB calls, items read and
//! the capacity units DynamoDB reported. The search rows, with their
//! latency, are in [`search`].

mod run;
mod search;

use std::fmt::Write as _;

use lambda_http::http::Method;
use serde_json::{json, Value};
use shared::store::usage::Usage;

use crate::format::{thousands, units};
use crate::request::{get, prepare, send_ok};
use crate::seed::Org;
use crate::settings::{say, Settings};

pub use run::CostRow;
use run::{CostRun, Tally};

/// The list pages measured: label, query string, grows by design.
const LISTS: [(&str, &str, bool); 8] = [
    ("list: first page (limit 50)", "limit=50", false),
    (
        "list: sortBy=createdAt desc",
        "limit=50&sortBy=createdAt&sortOrder=desc",
        false,
    ),
    ("list: sortBy=name", "limit=50&sortBy=name", false),
    (
        "list: sortBy=phone desc",
        "limit=50&sortBy=phone&sortOrder=desc",
        false,
    ),
    ("list: sortBy=status", "limit=50&sortBy=status", false),
    (
        "list: sortBy=status desc",
        "limit=50&sortBy=status&sortOrder=desc",
        false,
    ),
    ("list: status=inactive", "limit=50&status=inactive", false),
    (
        "list: status=active sortBy=name",
        "limit=50&status=active&sortBy=name",
        false,
    ),
];

pub async fn cost_section(
    settings: &Settings,
    base: &aws_sdk_dynamodb::Client,
    orgs: &[Org],
) -> Vec<CostRow> {
    let mut run = CostRun::new(settings.config(), base, orgs.len());
    for (index, org) in orgs.iter().enumerate() {
        say(format!("cost: organization of {} clients", org.size));
        single_client(&mut run, index, org).await;
        lists(&mut run, index, &org.key).await;
        // Last: at 100,000 clients a broad search keeps DynamoDB Local busy
        // for a while, which would slow whatever comes next.
        search::searches(&mut run, index, &org.key).await;
    }
    run.into_rows()
}

/// Get, key look-up, create, update and delete of one client.
async fn single_client(run: &mut CostRun, index: usize, org: &Org) {
    let key = &org.key;
    let middle = &org.clients[org.clients.len() / 2];
    let uri = format!("/api/v1/clients/{}", middle.id);
    // Warms the key cache: every row below is measured without the key look-up.
    send_ok(run.app(), &get(&uri, key), 200, "get").await;
    let (tally, _) = run.measure(&get(&uri, key), 200, "get").await;
    run.put("GET /clients/{id}", index, Some(tally), "", false);
    let auth = run.auth_only(key).await;
    let label = "  + key look-up (cache miss, ≤ once a minute)";
    run.put(label, index, Some(auth), "", false);

    let body = json!({"name": "Bench Created", "phone": "+1 555-0000", "notes": "created by the benchmark"});
    let create = prepare(Method::POST, "/api/v1/clients", key, Some(&body));
    let (tally, created) = run.measure(&create, 201, "create").await;
    run.put("POST /clients", index, Some(tally), "", false);
    let created_id = created["data"]["id"].as_str().expect("the created id");
    let created_uri = format!("/api/v1/clients/{created_id}");

    let long = json!({"name": search::long_name(), "phone": "+1 555-0000"});
    let request = prepare(Method::POST, "/api/v1/clients", key, Some(&long));
    let (tally, long) = run.measure(&request, 201, "create, 200-char name").await;
    run.put(
        "POST /clients (200-char name)",
        index,
        Some(tally),
        "",
        false,
    );
    // Removed again, not measured, so the organization keeps its size.
    let long_uri = format!("/api/v1/clients/{}", long["data"]["id"].as_str().unwrap());
    let delete = prepare(Method::DELETE, &long_uri, key, None);
    send_ok(run.app(), &delete, 200, "delete").await;

    let patch = json!({"name": "Bench Renamed", "status": "inactive"});
    let request = prepare(Method::PATCH, &created_uri, key, Some(&patch));
    let (tally, _) = run.measure(&request, 200, "update").await;
    run.put(
        "PATCH /clients/{id} (status change)",
        index,
        Some(tally),
        "",
        false,
    );
    let patch = json!({"notes": "changed"});
    let request = prepare(Method::PATCH, &uri, key, Some(&patch));
    let (tally, _) = run.measure(&request, 200, "update").await;
    run.put("PATCH /clients/{id} (notes)", index, Some(tally), "", false);

    let request = prepare(Method::DELETE, &created_uri, key, None);
    let (tally, _) = run.measure(&request, 200, "delete").await;
    run.put("DELETE /clients/{id}", index, Some(tally), "", false);
}

/// The list pages of [`LISTS`], then the offset rows.
async fn lists(run: &mut CostRun, index: usize, key: &str) {
    for (label, query, grows) in LISTS {
        let request = get(&format!("/api/v1/clients?{query}"), key);
        let (tally, body) = run.measure(&request, 200, label).await;
        run.put(label, index, Some(tally), "", grows);
        if query == "limit=50" {
            let tally = next_page(run, &body, key, "cursor page").await;
            run.put("list: 2nd page by cursor", index, tally, "", false);
        }
    }
    offset(run, index, key).await;
}

/// A page at offset 1000, and the page after it by cursor.
async fn offset(run: &mut CostRun, index: usize, key: &str) {
    let request = get("/api/v1/clients?limit=50&offset=1000", key);
    let (tally, body) = run.measure(&request, 200, "offset page").await;
    let label = "list: offset=1000";
    run.put(label, index, Some(tally), "O(offset) by design", true);
    let tally = next_page(run, &body, key, "cursor after offset").await;
    let label = "list: page after offset=1000 by cursor";
    run.put(label, index, tally, "", false);
}

/// The cost of the page after the list answer `body` by its `nextCursor`;
/// `None` on the last page.
async fn next_page(run: &CostRun, body: &Value, key: &str, what: &str) -> Option<Tally> {
    let cursor = body["nextCursor"].as_str()?;
    let request = get(&format!("/api/v1/clients?limit=50&cursor={cursor}"), key);
    Some(run.measure(&request, 200, what).await.0)
}

/// The cost table, and the goals it misses (a row that grows by accident,
/// a request that failed).
pub fn cost_table(sizes: &[usize], rows: &[CostRow]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut misses = Vec::new();
    let _ = writeln!(out, "Cost per request vs organization size: DynamoDB calls / items read / capacity units (read+write),");
    let _ = writeln!(out, "as DynamoDB reported them (ScannedCount, items returned, ConsumedCapacity); key look-up cached.");
    let _ = writeln!(
        out,
        "Search rows add the median latency of {} runs.",
        search::LATENCY_RUNS
    );
    let mut header = format!("{:<42}", "request");
    for size in sizes {
        let _ = write!(
            header,
            " {:>26}",
            format!("n = {}", thousands(*size as u64))
        );
    }
    let _ = writeln!(out, "{header}  flat?");
    for row in rows {
        let mut line = format!("{:<42}", row.label);
        for (cell, p50) in row.cells.iter().zip(&row.p50) {
            let mut text = cell_text(cell.as_ref());
            if let (Some(p50), Some(Tally { failed: None, .. })) = (p50, cell) {
                let _ = write!(text, " / {:.1} ms", p50.as_secs_f64() * 1000.0);
            }
            let _ = write!(line, " {text:>26}");
        }
        let failed: Vec<u16> = row
            .cells
            .iter()
            .flatten()
            .filter_map(|t| t.failed)
            .collect();
        if !failed.is_empty() {
            misses.push(format!(
                "{}: failed with HTTP {failed:?} at the largest size(s)",
                row.label
            ));
        }
        let _ = writeln!(out, "{line}  {}", verdict(row, &mut misses));
    }
    (out, misses)
}

/// calls / items read / capacity units, or the failure, or "—".
fn cell_text(cell: Option<&Tally>) -> String {
    match cell {
        Some(Tally {
            failed: Some(status),
            usage,
        }) => format!("HTTP {status} ({} calls)", usage.calls),
        Some(Tally { usage, .. }) => format!(
            "{} / {} / {}",
            usage.calls,
            usage.items_read,
            units(usage.read_units + usage.write_units)
        ),
        None => "—".to_owned(),
    }
}

/// "flat" when the largest organization costs no more calls and at most 10 %
/// more items than the smallest; else how it grows (a miss unless by design).
fn verdict(row: &CostRow, misses: &mut Vec<String>) -> String {
    let present: Vec<&Usage> = row
        .cells
        .iter()
        .flatten()
        .filter(|t| t.failed.is_none())
        .map(|t| &t.usage)
        .collect();
    match (present.first(), present.last()) {
        (Some(a), Some(b)) if present.len() >= 2 => {
            let flat = b.calls <= a.calls && b.items_read <= a.items_read + a.items_read / 10 + 2;
            if flat {
                "flat".to_owned()
            } else if row.grows_by_design {
                format!(
                    "grows ×{:.0} ({})",
                    b.items_read as f64 / a.items_read.max(1) as f64,
                    row.note
                )
            } else {
                misses.push(row.label.clone());
                format!(
                    "GROWS ×{:.1} (bug)",
                    b.items_read as f64 / a.items_read.max(1) as f64
                )
            }
        }
        _ => String::new(),
    }
}

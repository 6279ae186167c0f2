//! Section 1, cost vs organization size: every kind of request sent through
//! the handlers in each seeded organization, counted by the product's own
//! counter ([`shared::store::usage::measure`], the figures of each
//! request's closing log line and metrics): DynamoDB calls, items read and
//! the capacity units DynamoDB reported. The search rows, with their
//! latency, are in [`search`].

mod search;

pub use search::RARE_WORD;

use std::fmt::Write as _;
use std::time::Duration;

use lambda_http::http::Method;
use serde_json::{json, Value};
use shared::function::Config;
use shared::store::usage::{self, Usage};
use shared::App;

use crate::format::{thousands, units};
use crate::request::{get, prepare, send, send_ok, Prepared};
use crate::seed::Org;
use crate::settings::{say, Settings};

/// What one request cost, and its HTTP status if it failed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// What DynamoDB did for it, as the product counts it.
    pub usage: Usage,
    /// The HTTP status when the request failed (e.g. 503 after DynamoDB timeouts).
    pub failed: Option<u16>,
}

pub struct CostRow {
    label: String,
    /// Per organization size (same order as the sizes); `None` = not applicable.
    cells: Vec<Option<Tally>>,
    /// Median latency per organization size, for the rows that time it.
    p50: Vec<Option<Duration>>,
    note: &'static str,
    /// Expected to grow with the organization (search, offset).
    grows_by_design: bool,
}

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
        run.single_client(index, org).await;
        run.lists(index, &org.key).await;
    }
    run.rows
}

/// The API and the rows measured so far.
struct CostRun {
    dynamodb: aws_sdk_dynamodb::Client,
    config: Config,
    app: App,
    sizes: usize,
    rows: Vec<CostRow>,
}

impl CostRun {
    fn new(config: Config, base: &aws_sdk_dynamodb::Client, sizes: usize) -> Self {
        let app = App::new(base.clone(), &config);
        Self {
            dynamodb: base.clone(),
            config,
            app,
            sizes,
            rows: Vec::new(),
        }
    }

    /// Records `tally` in the row `label` (added on first use) for the
    /// organization size at `index`.
    fn put(
        &mut self,
        label: &str,
        index: usize,
        tally: Option<Tally>,
        note: &'static str,
        grows: bool,
    ) {
        self.put_timed(label, index, (tally, None), note, grows);
    }

    /// [`Self::put`] with the request's median latency.
    fn put_timed(
        &mut self,
        label: &str,
        index: usize,
        (tally, p50): (Option<Tally>, Option<Duration>),
        note: &'static str,
        grows: bool,
    ) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.label == label) {
            row.cells[index] = tally;
            row.p50[index] = p50;
        } else {
            let (mut cells, mut p50s) = (vec![None; self.sizes], vec![None; self.sizes]);
            cells[index] = tally;
            p50s[index] = p50;
            self.rows.push(CostRow {
                label: label.to_owned(),
                cells,
                p50: p50s,
                note,
                grows_by_design: grows,
            });
        }
    }

    /// Sends `request` and returns what it cost; a status other than
    /// `expected` is said and marks the tally failed.
    async fn measure(&self, request: &Prepared, expected: u16, what: &str) -> (Tally, Value) {
        let ((status, body), usage) = usage::measure(send(&self.app, request)).await;
        let mut tally = Tally {
            usage,
            failed: None,
        };
        if status != expected {
            say(format!("{what}: HTTP {status}: {body}"));
            tally.failed = Some(status);
        }
        (tally, body)
    }

    /// Get, key look-up, create, update and delete of one client.
    async fn single_client(&mut self, index: usize, org: &Org) {
        let key = &org.key;
        let middle = &org.clients[org.clients.len() / 2];
        let uri = format!("/api/v1/clients/{}", middle.id);
        // Warms the key cache: every row below is measured without the key look-up.
        send_ok(&self.app, &get(&uri, key), 200, "get").await;
        let (tally, _) = self.measure(&get(&uri, key), 200, "get").await;
        self.put("GET /clients/{id}", index, Some(tally), "", false);
        let auth = self.auth_only(key).await;
        let label = "  + key look-up (cache miss, ≤ once a minute)";
        self.put(label, index, Some(first_diff(&auth)), "", false);

        let body = json!({"name": "Bench Created", "phone": "+1 555-0000", "notes": "created by the benchmark"});
        let create = prepare(Method::POST, "/api/v1/clients", key, Some(&body));
        let (tally, created) = self.measure(&create, 201, "create").await;
        self.put("POST /clients", index, Some(tally), "", false);
        let created_id = created["data"]["id"].as_str().expect("the created id");
        let created_uri = format!("/api/v1/clients/{created_id}");

        let long = json!({"name": search::long_name(), "phone": "+1 555-0000"});
        let request = prepare(Method::POST, "/api/v1/clients", key, Some(&long));
        let (tally, long) = self.measure(&request, 201, "create, 200-char name").await;
        self.put(
            "POST /clients (200-char name)",
            index,
            Some(tally),
            "",
            false,
        );
        // Removed again, not measured, so the organization keeps its size.
        let long_uri = format!("/api/v1/clients/{}", long["data"]["id"].as_str().unwrap());
        let delete = prepare(Method::DELETE, &long_uri, key, None);
        send_ok(&self.app, &delete, 200, "delete").await;

        let patch = json!({"name": "Bench Renamed", "status": "inactive"});
        let request = prepare(Method::PATCH, &created_uri, key, Some(&patch));
        let (tally, _) = self.measure(&request, 200, "update").await;
        self.put(
            "PATCH /clients/{id} (status change)",
            index,
            Some(tally),
            "",
            false,
        );
        let patch = json!({"notes": "changed"});
        let request = prepare(Method::PATCH, &uri, key, Some(&patch));
        let (tally, _) = self.measure(&request, 200, "update").await;
        self.put("PATCH /clients/{id} (notes)", index, Some(tally), "", false);

        let request = prepare(Method::DELETE, &created_uri, key, None);
        let (tally, _) = self.measure(&request, 200, "delete").await;
        self.put("DELETE /clients/{id}", index, Some(tally), "", false);
    }

    /// The cost of authenticating with a key that is not cached: a fresh `App`
    /// (empty key cache) answering one request, minus the same request warm.
    async fn auth_only(&self, key: &str) -> (Usage, Usage) {
        let fresh = App::new(self.dynamodb.clone(), &self.config);
        let request = get("/api/v1/clients/01890000-0000-7000-8000-000000000000", key);
        let (_, cold) = usage::measure(send_ok(&fresh, &request, 404, "cold key")).await;
        let (_, warm) = usage::measure(send_ok(&fresh, &request, 404, "warm key")).await;
        (cold, warm)
    }

    /// The list pages of [`LISTS`], the offset rows, then the searches
    /// ([`search::SEARCHES`]): at 100,000 clients a broad search keeps
    /// DynamoDB Local busy for a while, which would slow whatever comes next.
    async fn lists(&mut self, index: usize, key: &str) {
        for (label, query, grows) in LISTS {
            let request = get(&format!("/api/v1/clients?{query}"), key);
            let (tally, body) = self.measure(&request, 200, label).await;
            self.put(label, index, Some(tally), "", grows);
            if query == "limit=50" {
                let tally = self.next_page(&body, key, "cursor page").await;
                self.put("list: 2nd page by cursor", index, tally, "", false);
            }
        }
        self.offset(index, key).await;
        self.searches(index, key).await;
    }

    /// A page at offset 1000, and the page after it by cursor.
    async fn offset(&mut self, index: usize, key: &str) {
        let request = get("/api/v1/clients?limit=50&offset=1000", key);
        let (tally, body) = self.measure(&request, 200, "offset page").await;
        let label = "list: offset=1000";
        self.put(label, index, Some(tally), "O(offset) by design", true);
        let tally = self.next_page(&body, key, "cursor after offset").await;
        let label = "list: page after offset=1000 by cursor";
        self.put(label, index, tally, "", false);
    }

    /// The cost of the page after the list answer `body` by its `nextCursor`;
    /// `None` on the last page.
    async fn next_page(&self, body: &Value, key: &str, what: &str) -> Option<Tally> {
        let cursor = body["nextCursor"].as_str()?;
        let request = get(&format!("/api/v1/clients?limit=50&cursor={cursor}"), key);
        Some(self.measure(&request, 200, what).await.0)
    }
}

/// What the cold request cost more than the warm one.
fn first_diff((cold, warm): &(Usage, Usage)) -> Tally {
    Tally {
        usage: Usage {
            calls: cold.calls - warm.calls,
            items_read: cold.items_read - warm.items_read,
            read_units: cold.read_units - warm.read_units,
            write_units: cold.write_units - warm.write_units,
        },
        failed: None,
    }
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

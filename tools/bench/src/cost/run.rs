//! The API a cost run sends its requests through ([`CostRun`]), what one
//! request cost ([`Tally`]), and the rows measured so far ([`CostRow`]).

use std::time::Duration;

use serde_json::Value;
use shared::function::Config;
use shared::store::usage::{self, Usage};
use shared::App;

use crate::request::{get, send, send_ok, Prepared};
use crate::settings::say;

/// What one request cost, and its HTTP status if it failed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// What DynamoDB did for it, as the product counts it.
    pub usage: Usage,
    /// The HTTP status when the request failed (e.g. 503 after DynamoDB timeouts).
    pub failed: Option<u16>,
}

/// One row of the cost table.
pub struct CostRow {
    pub(super) label: String,
    /// Per organization size (same order as the sizes); `None` = not applicable.
    pub(super) cells: Vec<Option<Tally>>,
    /// Median latency per organization size, for the rows that time it.
    pub(super) p50: Vec<Option<Duration>>,
    pub(super) note: &'static str,
    /// Expected to grow with the organization (search, offset).
    pub(super) grows_by_design: bool,
}

/// The API and the rows measured so far.
pub struct CostRun {
    dynamodb: aws_sdk_dynamodb::Client,
    config: Config,
    app: App,
    sizes: usize,
    rows: Vec<CostRow>,
}

impl CostRun {
    /// A run over `sizes` organization sizes.
    pub fn new(config: Config, base: &aws_sdk_dynamodb::Client, sizes: usize) -> Self {
        let app = App::new(base.clone(), &config);
        Self {
            dynamodb: base.clone(),
            config,
            app,
            sizes,
            rows: Vec::new(),
        }
    }

    /// The API the run measures (also for requests sent but not recorded).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The rows measured, in the order they were first recorded.
    pub fn into_rows(self) -> Vec<CostRow> {
        self.rows
    }

    /// Records `tally` in the row `label` (added on first use) for the
    /// organization size at `index`.
    pub fn put(
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
    pub fn put_timed(
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
    pub async fn measure(&self, request: &Prepared, expected: u16, what: &str) -> (Tally, Value) {
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

    /// The cost of authenticating with a key that is not cached: a fresh `App`
    /// (empty key cache) answering one request, minus the same request warm.
    pub async fn auth_only(&self, key: &str) -> Tally {
        let fresh = App::new(self.dynamodb.clone(), &self.config);
        let request = get("/api/v1/clients/01890000-0000-7000-8000-000000000000", key);
        let (_, cold) = usage::measure(send_ok(&fresh, &request, 404, "cold key")).await;
        let (_, warm) = usage::measure(send_ok(&fresh, &request, 404, "warm key")).await;
        Tally {
            usage: Usage {
                calls: cold.calls - warm.calls,
                retries: cold.retries.saturating_sub(warm.retries),
                items_read: cold.items_read - warm.items_read,
                read_units: cold.read_units - warm.read_units,
                write_units: cold.write_units - warm.write_units,
            },
            failed: None,
        }
    }
}

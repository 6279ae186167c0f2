//! The metered API a cost run sends its requests through ([`CostRun`]), and
//! the rows it has measured so far ([`CostRow`]).

use std::time::Duration;

use serde_json::Value;
use shared::function::Config;
use shared::App;

use crate::meter::{Meter, Tally};
use crate::request::{get, send, send_ok, Prepared};
use crate::settings::say;

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

/// The metered API and the rows measured so far.
pub struct CostRun {
    meter: Meter,
    metered: aws_sdk_dynamodb::Client,
    config: Config,
    app: App,
    sizes: usize,
    rows: Vec<CostRow>,
}

impl CostRun {
    /// A run over `sizes` organization sizes, its DynamoDB calls metered.
    pub fn new(config: Config, base: &aws_sdk_dynamodb::Client, sizes: usize) -> Self {
        let meter = Meter::default();
        let metered = meter.wrap(base);
        let app = App::new(metered.clone(), &config);
        Self {
            meter,
            metered,
            config,
            app,
            sizes,
            rows: Vec::new(),
        }
    }

    /// The API the run measures (for requests sent but not recorded).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Forgets what the meter counted since the last measurement.
    pub fn reset_meter(&self) {
        self.meter.take();
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
        self.meter.take();
        let (status, body) = send(&self.app, request).await;
        let mut tally = self.meter.take();
        if status != expected {
            say(format!("{what}: HTTP {status}: {body}"));
            tally.failed = Some(status);
        }
        (tally, body)
    }

    /// The cost of authenticating with a key that is not cached: a fresh `App`
    /// (empty key cache) answering one request, minus the same request warm.
    pub async fn auth_only(&self, key: &str) -> Tally {
        let fresh = App::new(self.metered.clone(), &self.config);
        let request = get("/api/v1/clients/01890000-0000-7000-8000-000000000000", key);
        self.meter.take();
        send_ok(&fresh, &request, 404, "cold key").await;
        let cold = self.meter.take();
        send_ok(&fresh, &request, 404, "warm key").await;
        let warm = self.meter.take();
        Tally {
            calls: cold.calls - warm.calls,
            read: cold.read - warm.read,
            written: cold.written - warm.written,
            read_units: cold.read_units - warm.read_units,
            write_units: cold.write_units - warm.write_units,
            operations: Vec::new(),
            failed: None,
        }
    }
}

//! What the proxy did, per feature: requests forwarded (and what their
//! answers report reading and consuming), conflicts answered, throttles by
//! partition, index reads and writes of the lagging index view, server
//! errors, faults fired and time delayed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// Counts of what the proxy did since it started (or since [`crate::Proxy::reset_summary`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Requests forwarded to the upstream, by operation.
    pub forwarded: BTreeMap<String, u64>,
    /// Items and index entries read, as the upstream's successful answers
    /// show them ([`crate::answers`]).
    pub items_read: u64,
    /// Read capacity units the upstream's answers report (`ConsumedCapacity`).
    pub read_units: f64,
    /// Write capacity units the upstream's answers report (`ConsumedCapacity`).
    pub write_units: f64,
    /// `TransactionCanceledException`s answered for a `TransactionConflict`.
    pub transactions_cancelled: u64,
    /// `TransactionConflictException`s answered to single-item writes.
    pub plain_conflicts: u64,
    /// `TransactionInProgressException`s answered to repeats of a
    /// transaction still in flight (same `ClientRequestToken`).
    pub transactions_in_progress: u64,
    /// Throttles, by partition label (`table/T {"S":"x"}`, `table/T/index/I {"S":"y"}`):
    /// requests refused and batch items returned unprocessed.
    pub throttles: BTreeMap<String, u64>,
    /// Index reads (`Query`/`Scan` with `IndexName`) answered from the lagging index view.
    pub index_view_reads: u64,
    /// Items written to (or deleted from) the index view, each a lag after its write.
    pub index_view_writes: u64,
    /// Index view updates that failed (the view table gone, the upstream unreachable).
    pub index_view_failures: u64,
    /// `InternalServerError`s answered without forwarding (nothing was done).
    pub server_errors_before_forwarding: u64,
    /// `InternalServerError`s answered in place of the upstream's answer (the request was applied).
    pub server_errors_after_forwarding: u64,
    /// Answers withheld (fault `WithholdAnswer`).
    pub answers_withheld: u64,
    /// Requests dropped (fault `DropRequest`).
    pub requests_dropped: u64,
    /// Requests given the configured latency.
    pub delayed_requests: u64,
    /// The latency added in all, in milliseconds.
    pub delayed_ms: u64,
}

impl Summary {
    /// Every request forwarded, all operations together.
    pub fn forwarded_total(&self) -> u64 {
        self.forwarded.values().sum()
    }

    /// Every `InternalServerError` answered, before and after forwarding.
    pub fn server_errors_total(&self) -> u64 {
        self.server_errors_before_forwarding + self.server_errors_after_forwarding
    }

    /// Every throttle, all partitions together.
    pub fn throttles_total(&self) -> u64 {
        self.throttles.values().sum()
    }
}

/// The live counts, shared by every connection.
#[derive(Debug, Default)]
pub struct Counters {
    summary: Mutex<Summary>,
}

impl Counters {
    /// Changes the counts.
    pub fn update(&self, change: impl FnOnce(&mut Summary)) {
        change(&mut self.summary.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> Summary {
        self.summary
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts one forwarded request.
    pub fn forwarded(&self, operation: &str) {
        self.update(|s| *s.forwarded.entry(operation.to_owned()).or_default() += 1);
    }

    /// Counts what one successful upstream answer reports.
    pub fn answered(&self, reported: crate::answers::Reported) {
        self.update(|s| {
            s.items_read += reported.items_read;
            s.read_units += reported.read_units;
            s.write_units += reported.write_units;
        });
    }

    /// Counts one throttle of a partition.
    pub fn throttled(&self, label: String) {
        self.update(|s| *s.throttles.entry(label).or_default() += 1);
    }

    /// Counts an added latency.
    pub fn delayed(&self, delay: Duration) {
        self.update(|s| {
            s.delayed_requests += 1;
            s.delayed_ms += delay.as_millis() as u64;
        });
    }
}

//! What DynamoDB did for the request being served: calls sent and items
//! read, for the per-request metrics and log line; and whether a write may
//! have been applied although no answer said so.
//!
//! [`UsageInterceptor`] is installed on the DynamoDB client by
//! [`super::connect`]. It counts every attempt sent (retries included) and,
//! from each typed answer, the items read (`ScannedCount` of a `Query`, the
//! item of a `GetItem`, the items of a `BatchGetItem`), into the tally of
//! the task that made the call. [`measure`] opens that tally around a
//! request; calls made outside any [`measure`] (init, bulk imports on
//! spawned tasks) are not counted. Nothing is parsed or changed on the wire.
//!
//! [`watch_writes`] opens a second, independent watch around a store write:
//! it learns whether any attempt of a write operation was sent and got no
//! answer (a timeout, a connection lost mid-request), after which DynamoDB
//! may or may not have applied it. An attempt that never reached DynamoDB
//! (connection refused, connect timeout) or that DynamoDB answered with an
//! error does not count: it certainly changed nothing.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// DynamoDB work done for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requests sent to DynamoDB (each retry attempt counts).
    pub calls: u32,
    /// Index entries and items read, as DynamoDB reported them.
    pub items_read: u64,
}

#[derive(Debug, Default)]
struct Tally {
    calls: AtomicU32,
    items_read: AtomicU64,
}

tokio::task_local! {
    static TALLY: Arc<Tally>;
    static WRITE_WATCH: Arc<WriteWatch>;
}

/// What [`watch_writes`] learns about the write attempts inside it.
#[derive(Debug, Default)]
struct WriteWatch {
    /// An attempt of a write operation is on the wire.
    in_flight: AtomicBool,
    /// Some write attempt was sent and got no answer.
    unanswered: AtomicBool,
}

/// The operations that change items.
const WRITE_OPERATIONS: [&str; 5] = [
    "TransactWriteItems",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
];

/// Runs `write`, and says whether any write attempt inside it was sent and
/// left unanswered (its effect unknown).
pub async fn watch_writes<F: Future>(write: F) -> (F::Output, bool) {
    let watch = Arc::new(WriteWatch::default());
    let output = WRITE_WATCH.scope(Arc::clone(&watch), write).await;
    (output, watch.unanswered.load(Ordering::Relaxed))
}

/// Whether `error` (an attempt's failure) shows the request never reached
/// DynamoDB: the connection was refused or could not be made in time.
fn never_sent(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
            || error
                .downcast_ref::<hyper_util::client::legacy::Error>()
                .is_some_and(hyper_util::client::legacy::Error::is_connect)
            || error.to_string().starts_with("HTTP connect timeout")
        {
            return true;
        }
        next = error.source();
    }
    false
}

/// Runs `work`, counting the DynamoDB calls it makes (on its own task).
pub async fn measure<F: Future>(work: F) -> (F::Output, Usage) {
    let tally = Arc::new(Tally::default());
    let output = TALLY.scope(Arc::clone(&tally), work).await;
    let usage = Usage {
        calls: tally.calls.load(Ordering::Relaxed),
        items_read: tally.items_read.load(Ordering::Relaxed),
    };
    (output, usage)
}

fn add(calls: u32, items_read: u64) {
    let _ = TALLY.try_with(|tally| {
        tally.calls.fetch_add(calls, Ordering::Relaxed);
        tally.items_read.fetch_add(items_read, Ordering::Relaxed);
    });
}

/// The SDK interceptor that feeds [`measure`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageInterceptor;

impl Intercept for UsageInterceptor {
    fn name(&self) -> &'static str {
        "clients-api-usage"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        add(1, 0);
        let is_write = cfg
            .load::<Metadata>()
            .is_some_and(|metadata| WRITE_OPERATIONS.contains(&metadata.name()));
        let _ = WRITE_WATCH.try_with(|watch| watch.in_flight.store(is_write, Ordering::Relaxed));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = WRITE_WATCH.try_with(|watch| {
            let was_write = watch.in_flight.swap(false, Ordering::Relaxed);
            // No answer after sending, or a server error (DynamoDB's 5xx do
            // not say whether a write was applied).
            let unanswered = match context.response() {
                Some(response) => response.status().is_server_error(),
                None => matches!(context.output_or_error(), Some(Err(error)) if !never_sent(error)),
            };
            if was_write && unanswered {
                watch.unanswered.store(true, Ordering::Relaxed);
            }
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let items_read = if let Some(query) = output.downcast_ref::<QueryOutput>() {
            query.scanned_count.max(0) as u64
        } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            u64::from(get.item.is_some())
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            batch
                .responses
                .iter()
                .flat_map(|tables| tables.values())
                .map(|items| items.len() as u64)
                .sum()
        } else if let Some(scan) = output.downcast_ref::<ScanOutput>() {
            scan.scanned_count.max(0) as u64
        } else {
            0
        };
        add(0, items_read);
        Ok(())
    }
}

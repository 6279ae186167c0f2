//! What DynamoDB did for the request being served: calls sent and items
//! read, for the per-request metrics and log line.
//!
//! [`UsageInterceptor`] is installed on the DynamoDB client by
//! [`super::connect`]. It counts every attempt sent (retries included) and,
//! from each typed answer, the items read (`ScannedCount` of a `Query`, the
//! item of a `GetItem`, the items of a `BatchGetItem`), into the tally of
//! the task that made the call. [`measure`] opens that tally around a
//! request; calls made outside any [`measure`] (init, bulk imports on
//! spawned tasks) are not counted. Nothing is parsed or changed on the wire.
//! (Whether a failed write may have been applied is [`super::outcome`]'s.)

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
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
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        add(1, 0);
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

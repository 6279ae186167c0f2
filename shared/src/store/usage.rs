//! The one count of what DynamoDB did for the request being served: calls
//! sent, items read, and the read and write capacity units DynamoDB
//! reported. The closing log line and the metrics of every request
//! (`http::observe`, `http::metrics`), the tests' cost bounds and the
//! benchmark all read this count.
//!
//! [`UsageInterceptor`] is installed on the DynamoDB client by
//! [`super::connect`]. Inside a [`measure`] it
//! - asks DynamoDB for each call's consumed capacity
//!   (`ReturnConsumedCapacity: TOTAL` on the typed input of every
//!   operation that takes it, unless the caller set it already);
//! - counts every attempt sent, retries included, so each page of a paged
//!   `Query` and each round of a batch call counts; of those, the SDK's
//!   own retries (an attempt after a throttle, a server error or a timeout
//!   of the same call) are also counted apart, as [`Usage::retries`];
//! - adds, from each typed answer, the items read ([`items_read`]:
//!   `ScannedCount` of a `Query` or `Scan`, the item of a `GetItem`, the
//!   items of a `BatchGetItem` or `TransactGetItems`) and the capacity units
//!   it reports ([`units`]).
//!
//! An attempt that fails (an error answer, a timeout, a lost connection)
//! counts as a call that read nothing and used no units: DynamoDB's error
//! answers carry no `ConsumedCapacity`, not even the
//! `TransactionCanceledException` of a transaction whose condition failed
//! or the `ConditionalCheckFailedException` of a single-item write, though
//! the service charges the write units of such a refused write. Calls
//! made outside any [`measure`] (init, bulk imports on spawned tasks, the
//! admin tool) are neither counted nor changed.

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::scan::{ScanInput, ScanOutput};
use aws_sdk_dynamodb::operation::transact_get_items::{
    TransactGetItemsInput, TransactGetItemsOutput,
};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, Input, Output,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// DynamoDB work done for one request, as DynamoDB reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Requests sent to DynamoDB (each attempt counts: retries, every page
    /// of a paged `Query`, every round of a batch call).
    pub calls: u32,
    /// Of [`Usage::calls`], the attempts the SDK sent again after an
    /// attempt of the same call failed (throttled, a 500, no answer in
    /// time): what DynamoDB's faults cost, as opposed to what the request's
    /// algorithm asks for.
    pub retries: u32,
    /// Index entries and items read ([`items_read`]).
    pub items_read: u64,
    /// Read capacity units DynamoDB reported (0.5 for an eventually
    /// consistent read of up to 4 KB).
    pub read_units: f64,
    /// Write capacity units DynamoDB reported (two per KB for a transaction).
    pub write_units: f64,
}

impl Usage {
    /// This count without the SDK's retries: the calls the request's
    /// algorithm made, whatever faults DynamoDB answered some attempts with
    /// (what the cost bounds of the tests compare).
    pub fn first_attempts(self) -> Usage {
        Usage {
            calls: self.calls - self.retries,
            retries: 0,
            ..self
        }
    }

    /// Adds `other` to this count.
    fn add(&mut self, other: Usage) {
        self.calls += other.calls;
        self.retries += other.retries;
        self.items_read += other.items_read;
        self.read_units += other.read_units;
        self.write_units += other.write_units;
    }
}

tokio::task_local! {
    static TALLY: Arc<Mutex<Usage>>;
}

/// Runs `work`, counting the DynamoDB calls it makes (on its own task).
pub async fn measure<F: Future>(work: F) -> (F::Output, Usage) {
    let tally = Arc::new(Mutex::new(Usage::default()));
    let output = TALLY.scope(Arc::clone(&tally), work).await;
    let usage = *tally.lock().unwrap_or_else(|e| e.into_inner());
    (output, usage)
}

/// Adds `usage` to the tally of the [`measure`] around this task, if any.
fn add(usage: Usage) {
    let _ = TALLY.try_with(|tally| tally.lock().unwrap_or_else(|e| e.into_inner()).add(usage));
}

/// Whether a [`measure`] is open around this task.
fn measuring() -> bool {
    TALLY.try_with(|_| ()).is_ok()
}

/// Sets `ReturnConsumedCapacity: TOTAL` on a typed operation input, unless
/// the caller asked for something already; false if `input` is none of them.
fn ask_for_capacity(input: &mut Input) -> bool {
    macro_rules! ask {
        ($($input:ty),+ $(,)?) => {
            $(
                if let Some(input) = input.downcast_mut::<$input>() {
                    input
                        .return_consumed_capacity
                        .get_or_insert(ReturnConsumedCapacity::Total);
                    return true;
                }
            )+
        };
    }
    ask!(
        GetItemInput,
        QueryInput,
        ScanInput,
        BatchGetItemInput,
        TransactGetItemsInput,
        PutItemInput,
        UpdateItemInput,
        DeleteItemInput,
        BatchWriteItemInput,
        TransactWriteItemsInput,
    );
    false
}

/// Items read, as the answer shows them: `ScannedCount` of a `Query` or
/// `Scan` (what DynamoDB evaluated and charged for, before any filter), the
/// item a `GetItem` found, the items a `BatchGetItem` or `TransactGetItems`
/// returned; 0 for writes.
pub fn items_read(output: &Output) -> u64 {
    if let Some(query) = output.downcast_ref::<QueryOutput>() {
        query.scanned_count.max(0) as u64
    } else if let Some(scan) = output.downcast_ref::<ScanOutput>() {
        scan.scanned_count.max(0) as u64
    } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
        u64::from(get.item.is_some())
    } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
        batch
            .responses
            .iter()
            .flat_map(|tables| tables.values())
            .map(|items| items.len() as u64)
            .sum()
    } else if let Some(transact) = output.downcast_ref::<TransactGetItemsOutput>() {
        transact
            .responses
            .iter()
            .flatten()
            .filter(|response| response.item.is_some())
            .count() as u64
    } else {
        0
    }
}

/// The `(read, write)` capacity units an answer reports: a read
/// operation's units are read units, a write operation's write units.
pub fn units(output: &Output) -> (f64, f64) {
    fn total<'a>(capacities: impl IntoIterator<Item = &'a ConsumedCapacity>) -> f64 {
        capacities
            .into_iter()
            .filter_map(|capacity| capacity.capacity_units)
            .sum()
    }
    macro_rules! one {
        ($($output:ty),+) => {
            $(
                if let Some(output) = output.downcast_ref::<$output>() {
                    return total(&output.consumed_capacity);
                }
            )+
        };
    }
    macro_rules! list {
        ($($output:ty),+) => {
            $(
                if let Some(output) = output.downcast_ref::<$output>() {
                    return total(output.consumed_capacity.iter().flatten());
                }
            )+
        };
    }
    let read = || -> f64 {
        one!(GetItemOutput, QueryOutput, ScanOutput);
        list!(BatchGetItemOutput, TransactGetItemsOutput);
        0.0
    };
    let write = || -> f64 {
        one!(PutItemOutput, UpdateItemOutput, DeleteItemOutput);
        list!(BatchWriteItemOutput, TransactWriteItemsOutput);
        0.0
    };
    (read(), write())
}

/// The SDK interceptor that feeds [`measure`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageInterceptor;

impl Intercept for UsageInterceptor {
    fn name(&self) -> &'static str {
        "clients-api-usage"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if measuring() {
            ask_for_capacity(context.input_mut());
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg
            .load::<RequestAttempts>()
            .map_or(1, RequestAttempts::attempts);
        add(Usage {
            calls: 1,
            retries: u32::from(attempt > 1),
            ..Usage::default()
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(output) = context.output_or_error() {
            let (read_units, write_units) = units(output);
            add(Usage {
                items_read: items_read(output),
                read_units,
                write_units,
                ..Usage::default()
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::ItemResponse;

    fn capacity(units: f64) -> ConsumedCapacity {
        ConsumedCapacity::builder().capacity_units(units).build()
    }

    #[test]
    fn every_operation_the_store_sends_is_asked_for_its_capacity_but_an_explicit_choice_stays() {
        let mut query = Input::erase(QueryInput::builder().build().unwrap());
        let mut write = Input::erase(TransactWriteItemsInput::builder().build().unwrap());
        let mut chosen = Input::erase(
            GetItemInput::builder()
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .build()
                .unwrap(),
        );
        let mut other = Input::erase(
            aws_sdk_dynamodb::operation::describe_table::DescribeTableInput::builder()
                .build()
                .unwrap(),
        );

        let asked = [&mut query, &mut write, &mut chosen, &mut other].map(ask_for_capacity);

        assert_eq!(asked, [true, true, true, false]);
        let query = query.downcast_ref::<QueryInput>().unwrap();
        let write = write.downcast_ref::<TransactWriteItemsInput>().unwrap();
        let chosen = chosen.downcast_ref::<GetItemInput>().unwrap();
        assert_eq!(
            query.return_consumed_capacity,
            Some(ReturnConsumedCapacity::Total)
        );
        assert_eq!(
            write.return_consumed_capacity,
            Some(ReturnConsumedCapacity::Total)
        );
        assert_eq!(
            chosen.return_consumed_capacity,
            Some(ReturnConsumedCapacity::Indexes)
        );
    }

    #[test]
    fn reads_count_items_and_read_units_and_writes_count_write_units() {
        let query = Output::erase(
            QueryOutput::builder()
                .scanned_count(51)
                .count(51)
                .consumed_capacity(capacity(0.5))
                .build(),
        );
        let transact_get = Output::erase(
            TransactGetItemsOutput::builder()
                .responses(ItemResponse::builder().build())
                .responses(
                    ItemResponse::builder()
                        .set_item(Some(Default::default()))
                        .build(),
                )
                .consumed_capacity(capacity(2.0))
                .consumed_capacity(capacity(2.0))
                .build(),
        );
        let missing = Output::erase(
            GetItemOutput::builder()
                .consumed_capacity(capacity(1.0))
                .build(),
        );
        let transaction = Output::erase(
            TransactWriteItemsOutput::builder()
                .consumed_capacity(capacity(6.0))
                .build(),
        );
        let unasked = Output::erase(PutItemOutput::builder().build());

        assert_eq!((items_read(&query), units(&query)), (51, (0.5, 0.0)));
        assert_eq!(
            (items_read(&transact_get), units(&transact_get)),
            (1, (4.0, 0.0))
        );
        assert_eq!((items_read(&missing), units(&missing)), (0, (1.0, 0.0)));
        assert_eq!(
            (items_read(&transaction), units(&transaction)),
            (0, (0.0, 6.0))
        );
        assert_eq!((items_read(&unasked), units(&unasked)), (0, (0.0, 0.0)));
    }

    #[tokio::test]
    async fn a_measure_adds_up_what_its_task_reports_and_nothing_outside_it_counts() {
        add(Usage {
            calls: 5,
            ..Usage::default()
        });

        let ((), usage) = measure(async {
            for units in [0.5, 1.0] {
                add(Usage {
                    calls: 1,
                    items_read: 2,
                    read_units: units,
                    ..Usage::default()
                });
            }
        })
        .await;

        assert_eq!(
            usage,
            Usage {
                calls: 2,
                retries: 0,
                items_read: 4,
                read_units: 1.5,
                write_units: 0.0
            }
        );
        assert!(!measuring());
    }
}

//! Whether a failed write may have been applied: part of the store's error
//! contract ([`super::error::StoreError::Unavailable`] carries a [`WriteOutcome`]).
//!
//! DynamoDB may apply a write whose answer never arrives (an attempt that
//! timed out after it was sent, a connection lost mid-request) and does not
//! say whether it applied a write it answered with a 5xx. Every other
//! failed attempt certainly changed nothing: it never reached DynamoDB (the
//! connection was refused or could not be made in time) or DynamoDB
//! answered it with a 4xx error (throttled, cancelled, invalid).
//!
//! [`OutcomeInterceptor`] (installed by [`super::connect`]) classifies each
//! attempt of a write operation by the types of its answer or error
//! ([`Delivery`]), never by an error's text, and [`watch_writes`] says
//! whether any attempt inside it was [`Delivery::Unanswered`].

use std::error::Error as StdError;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What a write that failed may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Nothing: no attempt reached DynamoDB, or each was refused.
    NotApplied,
    /// An attempt reached DynamoDB and its answer was lost or was a server
    /// error: the write may or may not have been applied.
    MaybeApplied,
}

impl WriteOutcome {
    /// The outcome of a write made of several requests: unknown if any is.
    pub fn and(self, other: Self) -> Self {
        if self == Self::MaybeApplied || other == Self::MaybeApplied {
            Self::MaybeApplied
        } else {
            Self::NotApplied
        }
    }
}

/// How one attempt of a DynamoDB request ended, as far as its effect goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The request never reached DynamoDB: the connection was refused or
    /// could not be made in time.
    NeverSent,
    /// DynamoDB answered with a success or a client (4xx) error: what it
    /// did is what it said.
    Answered,
    /// DynamoDB answered with a server (5xx) error, or the request was sent
    /// and no answer came: it may have been applied.
    Unanswered,
}

impl Delivery {
    /// Classifies an attempt from its HTTP answer, if one came, else from
    /// its error.
    pub fn of_attempt(
        response: Option<&HttpResponse>,
        error: Option<&(dyn StdError + 'static)>,
    ) -> Self {
        match (response, error) {
            (Some(response), _) if response.status().is_server_error() => Self::Unanswered,
            (Some(_), _) | (None, None) => Self::Answered,
            (None, Some(error)) if never_sent(error) => Self::NeverSent,
            (None, Some(_)) => Self::Unanswered,
        }
    }
}

/// Whether `error` (an attempt's failure) shows that the request never
/// reached DynamoDB: somewhere in its chain is a refused connection or a
/// failure to connect (hyper's connect errors include the client's connect
/// timeout, which the HTTP client raises inside its connector).
pub(crate) fn never_sent(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        let refused = error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        let not_connected = error
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(hyper_util::client::legacy::Error::is_connect);
        if refused || not_connected {
            return true;
        }
        next = error.source();
    }
    false
}

/// The operations that change items.
const WRITE_OPERATIONS: [&str; 5] = [
    "TransactWriteItems",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
];

/// What [`watch_writes`] learns about the write attempts inside it.
#[derive(Debug, Default)]
struct WriteWatch {
    /// Some write attempt was sent and may have been applied.
    unanswered: AtomicBool,
    /// Write attempts being transmitted whose end was not seen yet: one
    /// given up at a deadline (its future dropped) never ends, and may
    /// still be applied.
    in_flight: AtomicUsize,
}

impl WriteWatch {
    /// What the attempts seen so far may have changed.
    fn outcome(&self) -> WriteOutcome {
        if self.unanswered.load(Ordering::Relaxed) || self.in_flight.load(Ordering::Relaxed) > 0 {
            WriteOutcome::MaybeApplied
        } else {
            WriteOutcome::NotApplied
        }
    }
}

tokio::task_local! {
    static WRITE_WATCH: Arc<WriteWatch>;
}

/// Runs `write`, and says what its failed write attempts may have changed:
/// [`WriteOutcome::MaybeApplied`] if any attempt of a write operation inside
/// it was [`Delivery::Unanswered`] or was given up while being sent
/// (whatever the later attempts did).
pub async fn watch_writes<F: Future>(write: F) -> (F::Output, WriteOutcome) {
    let watch = Arc::new(WriteWatch::default());
    let output = WRITE_WATCH.scope(Arc::clone(&watch), write).await;
    (output, watch.outcome())
}

/// Set in an attempt's config bag once a write's request is being
/// transmitted (an attempt that fails before that sent nothing).
#[derive(Debug, Clone, Copy)]
struct WriteTransmitted(bool);

impl aws_smithy_types::config_bag::Storable for WriteTransmitted {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// The SDK interceptor that feeds [`watch_writes`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OutcomeInterceptor;

impl Intercept for OutcomeInterceptor {
    fn name(&self) -> &'static str {
        "clients-api-write-outcome"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let is_write = cfg
            .load::<Metadata>()
            .is_some_and(|metadata| WRITE_OPERATIONS.contains(&metadata.name()));
        if is_write {
            let _ = WRITE_WATCH.try_with(|watch| watch.in_flight.fetch_add(1, Ordering::Relaxed));
        }
        cfg.interceptor_state()
            .store_put(WriteTransmitted(is_write));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !cfg.load::<WriteTransmitted>().is_some_and(|w| w.0) {
            return Ok(());
        }
        cfg.interceptor_state().store_put(WriteTransmitted(false));
        let _ = WRITE_WATCH.try_with(|watch| watch.in_flight.fetch_sub(1, Ordering::Relaxed));
        let error = match context.output_or_error() {
            Some(Err(error)) => Some(error as &(dyn StdError + 'static)),
            _ => None,
        };
        if Delivery::of_attempt(context.response(), error) == Delivery::Unanswered {
            let _ = WRITE_WATCH.try_with(|watch| watch.unanswered.store(true, Ordering::Relaxed));
        }
        Ok(())
    }
}

/// What the write attempts made so far inside the enclosing
/// [`watch_writes`] may have changed ([`WriteOutcome::NotApplied`] outside
/// any watch): lets a write that retries tell its own earlier attempt's
/// effect from another writer's.
pub fn so_far() -> WriteOutcome {
    WRITE_WATCH
        .try_with(|watch| watch.outcome())
        .unwrap_or(WriteOutcome::NotApplied)
}

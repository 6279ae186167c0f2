//! The store's own error: what went wrong in DynamoDB terms, with no HTTP
//! status, message for callers or header. The HTTP edge decides how each
//! one is answered (`http::error`).

use std::error::Error as StdError;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

pub use super::outcome::WriteOutcome;

/// An underlying error, kept for the log.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a store operation did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The client (or record) does not exist.
    #[error("no such item")]
    NotFound,
    /// The client is not at a version the write accepts.
    #[error("the item is not at an expected version")]
    VersionMismatch,
    /// An idempotency key was first used with a request of another fingerprint.
    #[error("the idempotency key was first used with another request")]
    IdempotencyKeyReused,
    /// DynamoDB is throttling, failing or unreachable, after the SDK's
    /// retries; `outcome` says whether the write (if this was one) may have
    /// been applied all the same ([`super::outcome`]).
    #[error("DynamoDB is unavailable (write {outcome:?})")]
    Unavailable {
        /// What the failed write may have changed.
        outcome: WriteOutcome,
        /// Why, for the log.
        #[source]
        cause: BoxError,
    },
    /// An item read back does not have the shape this code writes.
    #[error("an item does not have the expected shape")]
    CorruptItem(#[source] BoxError),
    /// Any other failure: a request DynamoDB refused, a broken builder: a bug.
    #[error("DynamoDB request failed")]
    Failed(#[source] BoxError),
}

impl StoreError {
    /// An item that cannot be read back (or a value that cannot be written as one).
    pub fn corrupt(cause: impl Into<BoxError>) -> Self {
        Self::CorruptItem(cause.into())
    }

    /// A failure that is a bug, whatever DynamoDB says.
    pub fn failed(cause: impl Into<BoxError>) -> Self {
        Self::Failed(cause.into())
    }

    /// DynamoDB is unavailable and nothing was changed.
    pub fn unavailable(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            outcome: WriteOutcome::NotApplied,
            cause: cause.into(),
        }
    }

    /// DynamoDB is unavailable and a write may have been applied.
    pub fn maybe_applied(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            outcome: WriteOutcome::MaybeApplied,
            cause: cause.into(),
        }
    }

    /// This error, knowing that `outcome` describes the write it ended: an
    /// [`StoreError::Unavailable`] that may have been applied says so.
    pub fn with_outcome(self, outcome: WriteOutcome) -> Self {
        match self {
            Self::Unavailable {
                outcome: own,
                cause,
            } => Self::Unavailable {
                outcome: own.and(outcome),
                cause,
            },
            other => other,
        }
    }
}

/// Service error codes that mean "DynamoDB is overloaded or failing right now".
const UNAVAILABLE_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    /// Classifies a failed DynamoDB call (after the SDK's retries): throttling,
    /// timeouts and unreachability are [`StoreError::Unavailable`], anything
    /// else [`StoreError::Failed`].
    fn from(error: SdkError<E, R>) -> Self {
        let unavailable = match &error {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => service
                .err()
                .code()
                .is_some_and(|code| UNAVAILABLE_CODES.contains(&code)),
            _ => false,
        };
        if unavailable {
            Self::unavailable(error)
        } else {
            Self::Failed(Box::new(error))
        }
    }
}

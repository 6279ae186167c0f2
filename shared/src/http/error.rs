//! The one error type of the API, and the one place errors of the lower
//! layers become answers.
//!
//! Every failure a handler can meet is an [`ApiError`]. Each variant knows its
//! HTTP status, its stable snake_case `code` and the sentence shown to the
//! caller. Validation errors of the domain ([`FieldErrors`]) and store errors
//! ([`StoreError`]) convert into it here, and only here. 5xx variants carry
//! their cause for the log only: the message a caller sees never includes it.

use std::error::Error as StdError;
use std::time::Duration;

use crate::domain::share::Budget;
pub use crate::domain::validation::FieldError;
use crate::domain::validation::FieldErrors;
use crate::store::error::{StoreError, WriteOutcome};

/// A cause kept for the log, never shown to the caller.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// What `Retry-After` tells a caller when DynamoDB is throttling or unreachable.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Every way a request can fail, as the caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_json`: the body is not one JSON object (the sentence says how).
    #[error("{0}")]
    InvalidJson(&'static str),
    /// 400 `validation_error`, with every field at fault.
    #[error("The request has invalid fields or parameters.")]
    Validation(Vec<FieldError>),
    /// 401 `unauthorized`: no key, a malformed one, or an unknown or revoked one.
    #[error("A valid API key is required: send `Authorization: Bearer <key>`.")]
    Unauthorized,
    /// 404 `not_found`: no such client in the caller's organization.
    #[error("No such client.")]
    NotFound,
    /// 404 `not_found`: no such route.
    #[error("No such route: see the API's documentation for its endpoints.")]
    NoRoute,
    /// 409 `conflict` (the sentence says which).
    #[error("{0}")]
    Conflict(&'static str),
    /// 412 `precondition_failed`: `If-Match` names another version.
    #[error("The client has changed since the given ETag; fetch it again.")]
    PreconditionFailed,
    /// 413 `payload_too_large`.
    #[error("The request body is larger than 64 KiB.")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("The request body must be sent as `Content-Type: application/json`.")]
    UnsupportedMediaType,
    /// 429 `rate_limited`: the organization is over its plan's limit
    /// (`http::limiter`), with `Retry-After`; nothing was read or changed.
    #[error(
        "This organization is over its plan's limit of {} per second; retry after {} s.",
        budget_words(*.budget),
        .retry_after.as_secs().max(1)
    )]
    RateLimited {
        /// When it would be admitted (whole seconds, at least one).
        retry_after: Duration,
        /// The budget that refused it.
        budget: Budget,
    },
    /// 503 `unavailable`, with `Retry-After` ([`RETRY_AFTER`]); the sentence
    /// says whether the request may have changed anything.
    #[error("{}", unavailable_sentence(*.outcome))]
    Unavailable {
        /// Whether the write (if the request made one) may have been applied.
        outcome: WriteOutcome,
        /// Why, for the log.
        #[source]
        cause: Cause,
    },
    /// 500 `internal`: a bug; the cause goes to the log.
    #[error("Internal error.")]
    Internal(#[source] Cause),
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors.0)
    }
}

impl From<StoreError> for ApiError {
    /// How each store outcome is answered.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::VersionMismatch => Self::PreconditionFailed,
            StoreError::IdempotencyKeyReused => Self::Conflict(
                "This Idempotency-Key was already used with a different request body.",
            ),
            StoreError::Unavailable { outcome, .. } => Self::Unavailable {
                outcome,
                cause: Box::new(error),
            },
            StoreError::CorruptItem(_) | StoreError::Failed(_) => Self::Internal(Box::new(error)),
        }
    }
}

impl ApiError {
    /// A single field error, the most common validation failure.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// A 500 whose cause goes to the log.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson(_) | Self::Validation(_) => 400,
            Self::Unauthorized => 401,
            Self::NotFound | Self::NoRoute => 404,
            Self::Conflict(_) => 409,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited { .. } => 429,
            Self::Internal(_) => 500,
            Self::Unavailable { .. } => 503,
        }
    }

    /// The stable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::Validation(_) => "validation_error",
            Self::Unauthorized => "unauthorized",
            Self::NotFound | Self::NoRoute => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The fields at fault, for a validation error.
    pub fn details(&self) -> Option<&[FieldError]> {
        match self {
            Self::Validation(details) => Some(details),
            _ => None,
        }
    }

    /// The JSON body of the contract: `{"error": {"code", "message", "details"?}}`.
    pub fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code(),
            "message": self.to_string(),
        });
        if let Some(details) = self.details() {
            error["details"] = serde_json::json!(details);
        }
        serde_json::json!({ "error": error })
    }

    /// How long the caller should wait before retrying, for a 429 or a 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => {
                Some((*retry_after).max(Duration::from_secs(1)))
            }
            Self::Unavailable { .. } => Some(RETRY_AFTER),
            _ => None,
        }
    }

    /// Whether this is the server's fault (logged as an error with its cause chain).
    pub fn is_server_error(&self) -> bool {
        self.status() >= 500
    }
}

/// A budget as a refusal's sentence names it.
fn budget_words(budget: Budget) -> &'static str {
    match budget {
        Budget::Requests => "requests",
        Budget::ReadUnits => "read capacity units",
        Budget::WriteUnits => "write capacity units",
    }
}

/// What a 503 tells the caller, by what the request may have changed.
fn unavailable_sentence(outcome: WriteOutcome) -> &'static str {
    match outcome {
        WriteOutcome::NotApplied => {
            "The service is temporarily unavailable and nothing was changed; retry after a moment."
        }
        WriteOutcome::MaybeApplied => {
            "The service is temporarily unavailable, and this change may or may not have been applied: repeat it with the same Idempotency-Key (for a create), or read the client first, after a moment."
        }
    }
}

/// Renders an error and every `source()` below it, for the log.
pub fn cause_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_body_lists_every_field() {
        let error = ApiError::Validation(vec![
            FieldError::new("name", "is required"),
            FieldError::new("status", "must be active or inactive"),
        ]);

        let body = error.body();

        assert_eq!(error.status(), 400);
        assert_eq!(body["error"]["code"], "validation_error");
        assert_eq!(body["error"]["details"][1]["field"], "status");
    }

    #[test]
    fn internal_error_never_shows_its_cause() {
        let error = ApiError::internal("table clients-prod missing attribute pk");

        let body = error.body().to_string();

        assert_eq!(error.status(), 500);
        assert!(!body.contains("clients-prod"), "{body}");
        assert!(cause_chain(&error).contains("clients-prod"));
    }

    #[test]
    fn store_errors_are_answered_by_the_contract() {
        let unavailable = ApiError::from(StoreError::unavailable("throttled"));
        let corrupt = ApiError::from(StoreError::corrupt("counts item: active is not a number"));
        let lost_every_race = ApiError::from(StoreError::unavailable("lost the race 8 times"));

        assert_eq!(ApiError::from(StoreError::NotFound).status(), 404);
        assert_eq!(ApiError::from(StoreError::VersionMismatch).status(), 412);
        assert_eq!(
            ApiError::from(StoreError::IdempotencyKeyReused).status(),
            409
        );
        assert_eq!(lost_every_race.status(), 503);
        assert!(matches!(
            unavailable,
            ApiError::Unavailable {
                outcome: WriteOutcome::NotApplied,
                ..
            }
        ));
        assert_eq!(unavailable.retry_after(), Some(RETRY_AFTER));
        assert!(cause_chain(&unavailable).contains("throttled"));
        assert_eq!(corrupt.status(), 500);
        assert!(!corrupt.body().to_string().contains("counts item"));
        assert!(cause_chain(&corrupt).contains("counts item"));
    }

    #[test]
    fn a_rate_limited_request_is_a_429_that_says_which_budget_and_when() {
        let error = ApiError::RateLimited {
            retry_after: Duration::from_secs(3),
            budget: Budget::ReadUnits,
        };

        assert_eq!(error.status(), 429);
        assert_eq!(error.code(), "rate_limited");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(
            error.body()["error"]["message"],
            "This organization is over its plan's limit of read capacity units per second; retry after 3 s."
        );
    }

    #[test]
    fn errors_without_field_details_have_no_details_key() {
        let body = ApiError::NotFound.body();

        assert!(body["error"].get("details").is_none());
    }
}

//! The one error type of the API.
//!
//! Every failure a handler can meet is an [`ApiError`]. Each variant knows its
//! HTTP status, its stable snake_case `code` and the sentence shown to the
//! caller. 5xx variants carry their cause for the log only: the message a
//! caller sees never includes it.

use std::error::Error as StdError;
use std::time::Duration;

use serde::Serialize;

/// A cause kept for the log, never shown to the caller.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// One field or parameter at fault, reported in `error.details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(&'static str),
    #[error("The request has invalid fields or parameters.")]
    Validation(Vec<FieldError>),
    #[error("A valid API key is required: send `Authorization: Bearer <key>`.")]
    Unauthorized,
    #[error("No such client.")]
    NotFound,
    #[error("No such route: see the API's documentation for its endpoints.")]
    NoRoute,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("The client has changed since the given ETag; fetch it again.")]
    PreconditionFailed,
    #[error("The request body is larger than 64 KiB.")]
    PayloadTooLarge,
    #[error("The request body must be sent as `Content-Type: application/json`.")]
    UnsupportedMediaType,
    #[error("The service is temporarily unavailable; retry after a moment.")]
    Unavailable {
        retry_after: Duration,
        #[source]
        cause: Cause,
    },
    #[error("Internal error.")]
    Internal(#[source] Cause),
}

impl ApiError {
    /// A single field error, the most common validation failure.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson(_) | Self::Validation(_) => 400,
            Self::Unauthorized => 401,
            Self::NotFound | Self::NoRoute => 404,
            Self::Conflict(_) => 409,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Internal(_) => 500,
            Self::Unavailable { .. } => 503,
        }
    }

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
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

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

    /// Whether this is the server's fault (logged as an error with its cause chain).
    pub fn is_server_error(&self) -> bool {
        self.status() >= 500
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
    fn errors_without_field_details_have_no_details_key() {
        let body = ApiError::NotFound.body();

        assert!(body["error"].get("details").is_none());
    }
}

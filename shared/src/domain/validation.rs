//! Field errors: what validation reports about a body or a query string.
//!
//! Every validator collects all the errors of one request; the HTTP edge
//! turns them into a 400 `validation_error` listing each one.

use serde::Serialize;

/// One field or parameter at fault, reported in `error.details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field or parameter name, as the caller sent it.
    pub field: String,
    /// What is wrong with it, as a sentence fragment (`must be …`).
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every field error of one request, in the order they were found (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request has {} invalid field(s) or parameter(s)", .0.len())]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// A single field error.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    /// The names of the fields at fault, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|error| error.field.as_str()).collect()
    }
}

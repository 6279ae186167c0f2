//! The HTTP edge of every function: the only layer that knows HTTP.
//!
//! - [`request`]: reads a `lambda_http::Request`: the key header, the client
//!   id of the path, `If-Match`, `Idempotency-Key`, and the body as a JSON object.
//! - [`auth`]: the `Authorization: Bearer` header and the cached key look-up.
//! - [`cursor`]: list positions as opaque, checksummed `cursor` text.
//! - [`error`]: [`ApiError`], the one error type, and how domain and store
//!   errors become a status, a code, a message and headers.
//! - [`observe`] and [`metrics`]: each request's log span and closing line,
//!   and its CloudWatch EMF metrics.
//! - [`limiter`]: the per-organization rate limiter of a container: admits
//!   or refuses (429) each authenticated request, leasing slices of the
//!   organization's budget, and writes the `RateLimit` fields.
//! - [`routes`]: the API's routes and the function serving each, listed once.
//! - [`response`]: handlers return `Result<Reply, ApiError>`; [`respond`]
//!   turns either side into the contract's JSON envelope with
//!   `Content-Type: application/json` and `X-Request-Id`, and logs failures
//!   (5xx with their cause chain) without request bodies or keys.

pub mod auth;
pub mod cursor;
pub mod error;
pub mod limiter;
pub mod metrics;
pub mod observe;
pub mod request;
pub mod response;
pub mod routes;

pub use error::ApiError;
pub use request::*;
pub use response::*;

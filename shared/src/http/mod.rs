//! The HTTP edge of every function.
//!
//! - [`request`]: reads a `lambda_http::Request`: the key header, the client
//!   id of the path, preconditions, and the body as a JSON object.
//! - [`response`]: handlers return `Result<Reply, ApiError>`; [`respond`]
//!   turns either side into the contract's JSON envelope with
//!   `Content-Type: application/json` and `X-Request-Id`, and logs failures
//!   (5xx with their cause chain) without request bodies or keys.

pub mod request;
pub mod response;

pub use request::*;
pub use response::*;

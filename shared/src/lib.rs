//! The library every Clients API function is built from.
//!
//! Layout, from the edge inwards:
//! - [`http`]: turns a `lambda_http::Request` into validated input and any
//!   outcome into a JSON response (envelope, `X-Request-Id`, error bodies).
//! - [`auth`]: `Authorization: Bearer ba_…` parsing, key hashing, the
//!   per-container key cache.
//! - [`input`] and [`list_query`]: validated newtypes for request bodies and
//!   list parameters, parsed once at the edge.
//! - [`model`]: the domain types the rest of the code trusts.
//! - [`store`]: everything that talks to DynamoDB (table definition, clients,
//!   listing, API keys).
//! - [`error`]: the one error type, each variant knowing its status and code.
//! - [`app`] and [`config`]: what a function builds once at start-up.

pub mod app;
pub mod auth;
pub mod config;
pub mod cursor;
pub mod error;
pub mod http;
pub mod input;
pub mod list_query;
pub mod model;
pub mod search;
pub mod store;

pub use app::App;
pub use error::ApiError;

//! The library every Clients API function is built from, in three layers
//! and a wiring module. Each layer imports only the ones above it in this
//! list (`layering` in the tests checks it):
//!
//! - [`domain`]: what a client is and what a request may ask for: the model,
//!   validated input, list queries, cursor positions, search normalization,
//!   API key format. No AWS, no HTTP.
//! - [`store`]: everything that talks to DynamoDB (table definition, item
//!   layout, clients, counts, listing, idempotency records, API keys), with
//!   its own [`store::StoreError`]. Knows the domain, not HTTP.
//! - [`http`]: the edge: reads a `lambda_http::Request` into domain values,
//!   authenticates the key, and turns outcomes and errors (domain and store
//!   alike) into the contract's status, code, message and headers.
//! - [`function`]: what a Lambda function builds once (configuration, the
//!   DynamoDB client, the [`App`]) and the one `main` every function runs.

#![warn(missing_docs)]

pub mod domain;
pub mod function;
pub mod http;
pub mod store;

pub use function::App;
pub use http::error::ApiError;

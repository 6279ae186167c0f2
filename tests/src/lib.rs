//! Test helpers shared by the integration tests. This root only declares
//! and re-exports them (the layering test forbids a module to import from its
//! ancestors): the API, its requests and answers, and the shared proxy are
//! [`api`]'s.
//!
//! The tests need a running DynamoDB Local, started by `scripts/test` (the
//! README's test command), which exports its address as
//! `AWS_ENDPOINT_URL_DYNAMODB`. Every test works in an organization of its
//! own inside one shared table, so tests run in parallel without seeing each
//! other's clients.
//!
//! [`TestApi`] sends requests the way API Gateway would: it builds the real
//! HTTP API (payload 2.0) event for a request with the local server's code,
//! parses it with `lambda_http`, and calls the route's function handler.
//!
//! Also here, for every test file: [`repo_root`] ([`paths`]), the event
//! fixtures' placeholders ([`fixtures`]), the crates' module graphs for the
//! layering test ([`module_graph`]), the docs page's examples
//! ([`docs_examples`]), the rate limit tests' plans, containers and
//! floods ([`limits`]), [`client_uri`], [`ids`],
//! [`expected_order`] and
//! [`join_all`]. The function binaries run through the `lambda-harness`
//! crate (under AWS's Runtime Interface Emulator: `tests/tests/lambda_runtime.rs`).

pub mod api;
pub mod docs_examples;
pub mod emf;
pub mod fixtures;
pub mod limits;
pub mod module_graph;
pub mod paths;

pub use fixtures::{PLACEHOLDER_ID, PLACEHOLDER_KEY};
pub use paths::{python, repo_root};

pub use api::*;

//! The store layer: everything that talks to DynamoDB. It takes and returns
//! domain values and fails with its own [`StoreError`]; it knows nothing of HTTP.
//!
//! - [`schema`]: the table's keys, indexes and projections: the one definition
//!   used to create the table and checked against `template.yaml`.
//! - [`item`]: how a client is laid out as an item (keys, sort keys, search fields).
//! - [`clients`]: get, create, update and delete, optimistic and bounded.
//! - [`write`]: the one write path (a transaction with a counts shard) and its one retry policy.
//! - [`counts`]: the per-organization counts item, kept exact in each write's transaction.
//! - [`listing`]: list pages, sorted, filtered and searched through the indexes.
//! - [`search_index`]: the suffix items that make a substring search one `begins_with` query.
//! - [`search_backfill`]: writes the search index of clients stored before it existed.
//! - [`idempotency`]: records that replay the first answer to an `Idempotency-Key`.
//! - [`keys`]: API key records.
//! - [`import`]: bulk import of sample or existing clients (demo data, tests, benchmark).
//! - [`table`]: the DynamoDB client (TLS, timeouts, retries) and the [`Table`] it works on.
//! - [`usage`]: the DynamoDB calls and items read of the request being served.
//! - [`error`]: [`StoreError`], and how a failed DynamoDB call is classified.
//! - [`outcome`]: whether a failed write may have been applied, from the types of its attempts' failures.
//!
//! The data model and the cost of every request are written down in
//! `docs/data-model.md`.

pub mod clients;
pub mod counts;
pub mod error;
pub mod idempotency;
pub mod import;
pub mod item;
pub mod keys;
pub mod listing;
pub mod outcome;
pub mod schema;
pub mod search_backfill;
pub mod search_index;
pub mod table;
pub mod usage;
pub mod write;

pub use error::StoreError;
pub use table::{connect, connect_to, Table};

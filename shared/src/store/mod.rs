//! The store layer: everything that talks to DynamoDB. It takes and returns
//! domain values and fails with its own [`StoreError`]; it knows nothing of HTTP.
//!
//! - [`layout`]: the table's vocabulary (attribute names, every item's key
//!   format, the indexes): a leaf every other module uses.
//! - [`item`]: how a client is laid out as an item.
//! - [`clients`]: get, create, update and delete, optimistic and bounded.
//! - [`write`]: the one write path (a transaction with a counts shard) and its one retry policy.
//! - [`counts`]: the per-organization counts item, kept exact in each write's transaction.
//! - [`order`]: each client's copies in every order a list walks, written in its transaction.
//! - [`listing`]: list pages, sorted, filtered and searched (the search planner).
//! - [`search_index`]: the suffix items that make a substring search one `begins_with` query.
//! - [`idempotency`]: records that replay the first answer to an `Idempotency-Key`.
//! - [`limits`]: the rate limiter's item per organization (plan,
//!   overrides, the epoch's tokens taken) and the one call that leases a slice.
//! - [`keys`]: API key records and the look-up that authenticates a request.
//! - [`admin`]: what operators and tools do off the request path (table
//!   creation, key administration, imports, search backfill).
//! - [`table`]: the DynamoDB client (TLS, timeouts, retries) and the [`Table`] it works on.
//! - [`usage`]: what DynamoDB did for the request being served (calls, items
//!   read, read and write units): the one count its log line, metrics, the
//!   tests' cost bounds and the benchmark read.
//! - [`error`]: [`StoreError`], and how a failed DynamoDB call is classified.
//! - [`outcome`]: whether a failed write may have been applied, from the types of its attempts' failures.
//!
//! The data model and the cost of every request are written down in
//! `docs/data-model.md`.

pub mod admin;
pub mod clients;
pub mod counts;
pub mod error;
pub mod idempotency;
pub mod item;
pub mod keys;
pub mod layout;
pub mod limits;
pub mod listing;
pub mod order;
pub mod outcome;
pub mod search_index;
pub mod table;
pub mod usage;
pub mod write;

pub use error::StoreError;
pub use table::{connect, connect_to, Table};

//! Operations for operators and tools, never on a request's path: creating
//! the table, making and revoking API keys, bulk imports, and backfilling the
//! search index. `clients-admin`, the benchmark and the tests use them.
//!
//! - [`table`]: the table's definition and its creation.
//! - [`keys`]: making, listing and revoking API keys.
//! - [`import`]: bulk import of sample or existing clients.
//! - [`search_backfill`]: writes the search index of clients stored before it existed.

pub mod import;
pub mod keys;
pub mod search_backfill;
pub mod table;

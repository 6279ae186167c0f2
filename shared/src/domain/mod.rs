//! The domain: clients, organizations, and what a request may ask of them.
//!
//! - [`model`]: the types the rest of the code trusts (ids, status, the client).
//! - [`fields`]: a client's fields as validated types (name, phone, notes).
//! - [`input`]: request bodies validated into [`input::NewClient`] and [`input::ClientPatch`].
//! - [`list_query`]: the validated parameters of a list request.
//! - [`position`]: where a page of a list ends (what a cursor carries).
//! - [`search`]: how names and phones are normalized and matched.
//! - [`api_key`]: the API key format, generation and hashing.
//! - [`validation`]: the field errors every validation reports.
//! - [`digest`]: SHA-256 hex digests (key hashes, fingerprints, cursor checksums).
//! - [`plan`]: plans, their limits and per-organization overrides.
//! - [`share`]: one container's slice of an organization's budget and the
//!   token buckets that spend it (the rate limiter's arithmetic).
//!
//! Nothing here knows about DynamoDB or HTTP.

pub mod api_key;
pub mod digest;
pub mod fields;
pub mod input;
pub mod list_query;
pub mod model;
pub mod plan;
pub mod position;
pub mod search;
pub mod share;
pub mod validation;

//! The placeholders of the example events in `events/`, which tests replace
//! with a real key and client id (or check are there).

/// The placeholder API key of the event fixtures.
pub const PLACEHOLDER_KEY: &str =
    "ba_0000000000000000000000000000000000000000000000000000000000000000";

/// The placeholder client id of the event fixtures (`pathParameters.id`).
pub const PLACEHOLDER_ID: &str = "0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a";

//! The API's OpenAPI description: the repository's `openapi.yaml`, compiled
//! into the binary, and its JSON form, converted once per container. Both
//! endpoints serve it (`openapi.json` as it is, the docs page rendered).

use std::sync::OnceLock;

use serde_json::Value;

/// `openapi.yaml` at the root of the repository, as written.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The description as JSON, converted on first use; an error says why
/// `openapi.yaml` could not be read.
pub fn description() -> Result<&'static Value, &'static str> {
    static DESCRIPTION: OnceLock<Result<Value, String>> = OnceLock::new();
    DESCRIPTION
        .get_or_init(|| {
            serde_yaml::from_str::<Value>(OPENAPI_YAML).map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(String::as_str)
}

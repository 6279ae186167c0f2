//! Runs the function binaries the way Lambda runs them, for the tests and the
//! benchmark.
//!
//! - [`functions`]: the one list of the API's Lambda functions (binary,
//!   template logical id, route, whether it needs the table).
//! - [`rie`]: a binary under AWS's own Lambda Runtime Interface Emulator
//!   (`aws-lambda-rie`, shipped with the SAM CLI), as `sam local invoke` runs
//!   it in its container; what `tests/tests/lambda_runtime.rs` uses.
//! - [`runtime_api`]: a small Lambda Runtime API emulator of ours, for what
//!   the RIE does not measure: spawn → first `/next` (init) time and peak
//!   RSS; what the benchmark's cold-start section uses.
//! - [`process`]: what both runners share: where a binary is, the
//!   environment a function gets, collecting its output.

pub mod functions;
pub mod process;
pub mod rie;
pub mod runtime_api;

pub use functions::{function, LambdaFunction, FUNCTIONS};
pub use process::binary_path;

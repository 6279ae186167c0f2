//! Faults for writes whose outcome the client cannot know, armed at run
//! time for the next N requests of an operation:
//! - [`Fault::WithholdAnswer`]: the request is forwarded and applied by the
//!   upstream, then its answer is held back past the client's timeout (or
//!   never sent: the connection is closed), so the client sees a timeout
//!   although the write happened;
//! - [`Fault::DropRequest`]: the connection is closed before the request is
//!   forwarded, so the write certainly did not happen;
//! - [`Fault::InternalServerError`]: the request is answered HTTP 500
//!   `InternalServerError`, either instead of forwarding it or in place of
//!   the upstream's answer once it was applied (the random rate of these is
//!   [`crate::server_errors`]).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A fault to fire on the next `count` requests of `operation`
/// (`X-Amz-Target`'s operation, e.g. `TransactWriteItems`; `*` for any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Fault {
    /// Forward, let the upstream apply it, then hold the answer for `delay`
    /// (`None`: never answer, close the connection).
    WithholdAnswer {
        /// The operation it fires on.
        operation: String,
        /// How many requests it fires on.
        count: u32,
        /// How long the answer is held back; `None` closes the connection instead.
        #[serde(default, with = "optional_millis", rename = "delay_ms")]
        delay: Option<Duration>,
    },
    /// Close the connection without forwarding.
    DropRequest {
        /// The operation it fires on.
        operation: String,
        /// How many requests it fires on.
        count: u32,
    },
    /// Answer `InternalServerError` (HTTP 500).
    InternalServerError {
        /// The operation it fires on.
        operation: String,
        /// How many requests it fires on.
        count: u32,
        /// `true`: forward the request and let the upstream apply it, then
        /// answer the error in place of its answer; `false`: answer the
        /// error without forwarding.
        #[serde(default)]
        forwarded: bool,
    },
}

impl Fault {
    fn operation(&self) -> &str {
        match self {
            Fault::WithholdAnswer { operation, .. }
            | Fault::DropRequest { operation, .. }
            | Fault::InternalServerError { operation, .. } => operation,
        }
    }

    fn count_mut(&mut self) -> &mut u32 {
        match self {
            Fault::WithholdAnswer { count, .. }
            | Fault::DropRequest { count, .. }
            | Fault::InternalServerError { count, .. } => count,
        }
    }
}

/// The armed faults, first armed first fired.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
}

impl Faults {
    /// Arms a fault.
    pub fn inject(&self, fault: Fault) {
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fault);
    }

    /// Disarms every fault.
    pub fn clear(&self) {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether to drop this request of `operation` (before forwarding it),
    /// using up one firing of a [`Fault::DropRequest`].
    pub fn drop_request(&self, operation: &str) -> bool {
        self.fire(operation, |f| matches!(f, Fault::DropRequest { .. }))
            .is_some()
    }

    /// Whether to withhold the answer to this forwarded request of
    /// `operation`, and for how long (`Some(None)`: close instead), using
    /// up one firing of a [`Fault::WithholdAnswer`].
    pub fn withhold_answer(&self, operation: &str) -> Option<Option<Duration>> {
        match self.fire(operation, |f| matches!(f, Fault::WithholdAnswer { .. }))? {
            Fault::WithholdAnswer { delay, .. } => Some(delay),
            _ => None,
        }
    }

    /// Whether to answer this request of `operation` with a server error,
    /// and when (`Some(true)`: after forwarding it), using up one firing of
    /// a [`Fault::InternalServerError`].
    pub fn server_error(&self, operation: &str) -> Option<bool> {
        match self.fire(operation, |f| {
            matches!(f, Fault::InternalServerError { .. })
        })? {
            Fault::InternalServerError { forwarded, .. } => Some(forwarded),
            _ => None,
        }
    }

    /// The first armed fault of this kind for `operation`, with one firing used up.
    fn fire(&self, operation: &str, kind: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let position = armed
            .iter()
            .position(|f| kind(f) && (f.operation() == "*" || f.operation() == operation))?;
        let fired = armed[position].clone();
        let count = armed[position].count_mut();
        *count = count.saturating_sub(1);
        if *count == 0 {
            armed.remove(position);
        }
        Some(fired)
    }
}

/// `Option<Duration>` as optional milliseconds in JSON.
mod optional_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_some(&(d.as_millis() as u64)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_exactly_count_times_on_its_operation_only() {
        let faults = Faults::default();
        faults.inject(Fault::DropRequest {
            operation: "PutItem".into(),
            count: 2,
        });

        let dropped: Vec<bool> = ["GetItem", "PutItem", "PutItem", "PutItem"]
            .iter()
            .map(|op| faults.drop_request(op))
            .collect();

        assert_eq!(dropped, [false, true, true, false]);
        assert_eq!(faults.withhold_answer("PutItem"), None);
    }

    #[test]
    fn a_server_error_fault_says_whether_it_fires_after_forwarding() {
        let faults = Faults::default();
        let fault: Fault = serde_json::from_str(
            r#"{"kind": "InternalServerError", "operation": "*", "count": 1, "forwarded": true}"#,
        )
        .unwrap();
        faults.inject(fault);
        faults.inject(Fault::InternalServerError {
            operation: "GetItem".into(),
            count: 1,
            forwarded: false,
        });

        let fired: Vec<Option<bool>> = ["PutItem", "GetItem", "GetItem"]
            .iter()
            .map(|op| faults.server_error(op))
            .collect();

        assert_eq!(fired, [Some(true), Some(false), None]);
        assert!(!faults.drop_request("GetItem"));
    }

    #[test]
    fn a_fault_reads_from_json_with_its_delay_in_milliseconds() {
        let fault: Fault = serde_json::from_str(
            r#"{"kind": "WithholdAnswer", "operation": "TransactWriteItems", "count": 1, "delay_ms": 2500}"#,
        )
        .unwrap();

        assert_eq!(
            fault,
            Fault::WithholdAnswer {
                operation: "TransactWriteItems".into(),
                count: 1,
                delay: Some(Duration::from_millis(2500)),
            }
        );
    }
}

//! Domain types: organizations, client ids, statuses and the client itself.
//!
//! Values of these types are valid by construction; code past the HTTP edge
//! trusts them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fields::{ClientName, Notes, Phone};

/// An organization (tenant) id: 1–64 characters of `a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let valid = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(value))
        } else {
            Err(format!(
                "organization id {value:?} must be 1-64 characters of a-z, 0-9, '-' and '_'"
            ))
        }
    }
}

impl FromStr for OrgId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<OrgId> for String {
    fn from(value: OrgId) -> Self {
        value.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client id: a UUID v7 chosen by the server, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(Uuid);

impl TryFrom<String> for ClientId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("{text:?} is not a client id"))
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.to_string()
    }
}

impl ClientId {
    /// A fresh id. Ids made by one process are strictly increasing.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses the id of a path. Only the canonical hyphenated lowercase or
    /// uppercase form of a UUID v7 is an id; anything else is no client.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 36 {
            return None;
        }
        let uuid = Uuid::try_parse(text).ok()?;
        (uuid.get_version_num() == 7).then_some(Self(uuid))
    }

    /// The creation instant embedded in the id (millisecond precision).
    pub fn created_at(&self) -> Timestamp {
        let (secs, nanos) = self
            .0
            .get_timestamp()
            .expect("a v7 uuid always has a timestamp")
            .to_unix();
        Timestamp::from_millis(secs as i64 * 1000 + i64::from(nanos / 1_000_000))
    }
}

impl Default for ClientId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ClientId {
    /// Lowercase hyphenated: the form stored and returned, which sorts like the id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A client's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `active`, the default.
    Active,
    /// `inactive`.
    Inactive,
}

impl Status {
    /// Every status, in sort order.
    pub const ALL: [Status; 2] = [Status::Active, Status::Inactive];

    /// `active` or `inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    /// The status named exactly `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instant with millisecond precision, shown as RFC 3339 UTC (`…T10:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(DateTime<Utc>);

impl TryFrom<String> for Timestamp {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("{text:?} is not an RFC 3339 instant"))
    }
}

impl From<Timestamp> for String {
    fn from(instant: Timestamp) -> String {
        instant.to_rfc3339()
    }
}

impl Timestamp {
    /// The current instant, to the millisecond.
    pub fn now() -> Self {
        Self::from_millis(Utc::now().timestamp_millis())
    }

    /// Milliseconds since the Unix epoch.
    pub fn from_millis(millis: i64) -> Self {
        Self(
            Utc.timestamp_millis_opt(millis)
                .single()
                .expect("milliseconds since the epoch of a real clock"),
        )
    }

    /// An RFC 3339 instant, truncated to the millisecond.
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Self::from_millis(t.timestamp_millis()))
    }

    /// `2026-11-27T10:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// A client. Its fields are described once, here: their serde form is the
/// contract's JSON object ([`Client::to_json`]) and, with the item's keys
/// beside it, the stored item (`store::item`); `version` is the `ETag`'s
/// and the item's, never in the JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    /// The id, chosen by the server.
    pub id: ClientId,
    /// The name.
    pub name: ClientName,
    /// The phone number, if any.
    #[serde(default)]
    pub phone: Option<Phone>,
    /// The status.
    pub status: Status,
    /// The notes, if any.
    #[serde(default)]
    pub notes: Option<Notes>,
    /// When it was created (the id's instant).
    pub created_at: Timestamp,
    /// When it last really changed.
    pub updated_at: Timestamp,
    /// Incremented on every real change; the basis of optimistic concurrency.
    #[serde(skip)]
    pub version: u64,
}

/// Which current versions of a client a conditional write accepts (the
/// HTTP edge reads it from `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExpectedVersion {
    /// Any version: the write is unconditional.
    #[default]
    Any,
    /// Only one of these versions (none matches an empty list).
    OneOf(Vec<u64>),
}

impl ExpectedVersion {
    /// Whether a client at `version` may be written.
    pub fn accepts(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&version),
        }
    }
}

impl Client {
    /// The JSON object of the contract; `phone` and `notes` are always present.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a client serializes to a JSON object")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_and_carry_their_creation_time() {
        let before = Timestamp::now();
        let first = ClientId::new();
        let second = ClientId::new();

        assert!(first < second);
        assert!(first.to_string() < second.to_string());
        assert!(first.created_at() >= before);
        assert!(second.created_at() <= Timestamp::now());
    }

    #[test]
    fn only_canonical_v7_uuids_are_client_ids() {
        let id = ClientId::new().to_string();

        assert!(ClientId::parse(&id).is_some());
        assert!(ClientId::parse(&id.to_uppercase()).is_some());
        assert!(ClientId::parse(&id.replace('-', "")).is_none());
        assert!(
            ClientId::parse("2b1f0d9c-8e7a-4c3a-9a4e-2b1f0d9c8e7a").is_none(),
            "v4"
        );
        assert!(ClientId::parse("../../etc").is_none());
        assert!(ClientId::parse("").is_none());
    }

    #[test]
    fn timestamps_render_rfc3339_utc_with_milliseconds() {
        let t = Timestamp::from_millis(1_795_773_600_000);

        assert_eq!(t.to_rfc3339(), "2026-11-27T10:00:00.000Z");
        assert_eq!(Timestamp::parse(&t.to_rfc3339()), Some(t));
    }

    #[test]
    fn org_ids_are_restricted_to_a_safe_alphabet() {
        assert!("acme-corp_1".parse::<OrgId>().is_ok());
        assert!("".parse::<OrgId>().is_err());
        assert!("Acme".parse::<OrgId>().is_err());
        assert!("a#b".parse::<OrgId>().is_err());
        assert!("x".repeat(65).parse::<OrgId>().is_err());
    }
}

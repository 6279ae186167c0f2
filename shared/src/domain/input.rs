//! Validated request bodies for POST and PATCH.
//!
//! A JSON object is parsed once into [`NewClient`] or [`ClientPatch`]; every
//! field error of one request is collected and reported together, into the
//! validated field types of [`super::fields`].

use serde_json::{Map, Value};

use super::digest::sha256_hex;
pub use super::fields::{ClientName, Notes, Phone};
use super::model::{Client, ClientId, Status, Timestamp};
use super::validation::{FieldError, FieldErrors};

const FIELDS: [&str; 4] = ["name", "phone", "status", "notes"];

/// An `Idempotency-Key` header value: 1–255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Checks a header value's bytes.
    pub fn parse(raw: &[u8]) -> Result<Self, String> {
        let printable = raw.iter().all(|b| (0x20..=0x7e).contains(b));
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !printable {
            return Err(format!(
                "must be 1 to {} printable ASCII characters",
                Self::MAX_LEN
            ));
        }
        Ok(Self(
            String::from_utf8(raw.to_vec()).expect("printable ASCII is UTF-8"),
        ))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of `POST /clients`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// The name.
    pub name: ClientName,
    /// The phone number, if one was given.
    pub phone: Option<Phone>,
    /// The status (`active` unless given).
    pub status: Status,
    /// The notes, if given (`null` is none).
    pub notes: Option<Notes>,
}

/// The body of `PATCH /clients/{id}`: `None` leaves a field as it is;
/// `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPatch {
    /// A new name.
    pub name: Option<ClientName>,
    /// A new phone; `Some(None)` clears it.
    pub phone: Option<Option<Phone>>,
    /// A new status.
    pub status: Option<Status>,
    /// New notes; `Some(None)` clears them.
    pub notes: Option<Option<Notes>>,
}

impl NewClient {
    /// A digest of the validated fields: two bodies that create the same
    /// client (after trimming and defaults) have the same fingerprint.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::json!([
            self.name.as_str(),
            self.phone.as_ref().map(Phone::as_str),
            self.status.as_str(),
            self.notes.as_ref().map(Notes::as_str),
        ]);
        sha256_hex(canonical.to_string().as_bytes())
    }

    /// The client this body creates, with the server's fresh `id`: version
    /// 1, created and updated at the id's instant.
    pub fn into_client(self, id: ClientId) -> Client {
        Client {
            id,
            name: self.name,
            phone: self.phone,
            status: self.status,
            notes: self.notes,
            created_at: id.created_at(),
            updated_at: id.created_at(),
            version: 1,
        }
    }

    /// Validates a `POST` body, reporting every field error at once.
    pub fn from_json(object: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut fields = FieldReader::new(object);
        let name = match object.get("name") {
            None => {
                fields.fail("name", "is required");
                None
            }
            Some(_) => fields.name(),
        };
        let phone = fields.phone().flatten();
        let status = fields.status().unwrap_or(Status::Active);
        let notes = fields.notes().flatten();
        fields.finish()?;
        Ok(Self {
            name: name.expect("a missing or invalid name is reported above"),
            phone,
            status,
            notes,
        })
    }
}

impl ClientPatch {
    /// The client after this patch, at `now`: its version and `updatedAt`
    /// move only on a real change (a patch whose values equal the current
    /// ones changes nothing); `updatedAt` never goes back.
    pub fn apply(&self, current: &Client, now: Timestamp) -> Client {
        let mut next = current.clone();
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        if let Some(phone) = &self.phone {
            next.phone = phone.clone();
        }
        if let Some(status) = self.status {
            next.status = status;
        }
        if let Some(notes) = &self.notes {
            next.notes = notes.clone();
        }
        if next != *current {
            next.version = current.version + 1;
            next.updated_at = now.max(current.updated_at);
        }
        next
    }

    /// Validates a `PATCH` body, reporting every field error at once.
    pub fn from_json(object: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut fields = FieldReader::new(object);
        let patch = Self {
            name: fields.name(),
            phone: fields.phone(),
            status: fields.status(),
            notes: fields.notes(),
        };
        fields.finish()?;
        Ok(patch)
    }
}

/// Reads the known fields of a body object, collecting every error.
struct FieldReader<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> FieldReader<'a> {
    fn new(object: &'a Map<String, Value>) -> Self {
        let errors = object
            .keys()
            .filter(|key| !FIELDS.contains(&key.as_str()))
            .map(|key| FieldError::new(key.as_str(), "is not a known field"))
            .collect();
        Self { object, errors }
    }

    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(FieldErrors(self.errors))
        }
    }

    /// Applies `parse` to a string field; `None` when absent or invalid.
    fn string<T>(
        &mut self,
        field: &str,
        nullable: bool,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.object.get(field)? {
            Value::String(text) => match parse(text) {
                Ok(value) => Some(Some(value)),
                Err(message) => {
                    self.fail(field, message);
                    None
                }
            },
            Value::Null if nullable => Some(None),
            Value::Null => {
                self.fail(field, "must not be null");
                None
            }
            _ if nullable => {
                self.fail(field, "must be a string or null");
                None
            }
            _ => {
                self.fail(field, "must be a string");
                None
            }
        }
    }

    fn name(&mut self) -> Option<ClientName> {
        self.string("name", false, ClientName::parse).flatten()
    }

    fn phone(&mut self) -> Option<Option<Phone>> {
        self.string("phone", true, Phone::parse)
            .map(Option::flatten)
    }

    fn status(&mut self) -> Option<Status> {
        self.string("status", false, |text| {
            Status::parse(text).ok_or_else(|| "must be one of: active, inactive".to_owned())
        })
        .flatten()
    }

    fn notes(&mut self) -> Option<Option<Notes>> {
        self.string("notes", true, Notes::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{ClientId, Timestamp};

    fn client() -> Client {
        let id = ClientId::new();
        Client {
            id,
            name: ClientName::parse("Ann").unwrap(),
            phone: None,
            status: Status::Active,
            notes: Some(Notes::parse("n").unwrap()),
            created_at: id.created_at(),
            updated_at: id.created_at(),
            version: 3,
        }
    }

    #[test]
    fn a_patch_that_changes_nothing_keeps_version_and_updated_at() {
        let current = client();
        let patch = ClientPatch {
            name: Some(ClientName::parse("Ann").unwrap()),
            notes: Some(Some(Notes::parse("n").unwrap())),
            ..ClientPatch::default()
        };

        assert_eq!(patch.apply(&current, Timestamp::now()), current);
    }

    #[test]
    fn a_real_change_bumps_the_version_and_updated_at() {
        let current = client();
        let patch = ClientPatch {
            status: Some(Status::Inactive),
            notes: Some(None),
            ..ClientPatch::default()
        };

        let next = patch.apply(&current, Timestamp::now());

        assert_eq!(next.version, 4);
        assert_eq!(next.status, Status::Inactive);
        assert_eq!(next.notes, None);
        assert!(next.updated_at >= current.updated_at);
        assert_eq!(next.created_at, current.created_at);
    }

    #[test]
    fn a_new_client_is_at_version_1_created_and_updated_at_its_ids_instant() {
        let new =
            NewClient::from_json(&object(json!({"name": " Ann ", "phone": "555 1234"}))).unwrap();
        let id = ClientId::new();

        let client = new.into_client(id);

        assert_eq!(client.name.as_str(), "Ann");
        assert_eq!(client.phone.as_ref().map(Phone::as_str), Some("555 1234"));
        assert_eq!((client.version, client.status), (1, Status::Active));
        assert_eq!(client.created_at, id.created_at());
        assert_eq!(client.updated_at, id.created_at());
    }

    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().expect("test bodies are objects").clone()
    }

    fn fields_at_fault(error: FieldErrors) -> Vec<String> {
        error.0.into_iter().map(|d| d.field).collect()
    }

    #[test]
    fn docs_page_body_is_a_valid_new_client() {
        let client =
            NewClient::from_json(&object(json!({"name": "John Doe", "phone": "+1 555-1234"})))
                .expect("valid");

        assert_eq!(client.name.as_str(), "John Doe");
        assert_eq!(
            client.phone.as_ref().map(Phone::as_str),
            Some("+1 555-1234")
        );
        assert_eq!(client.status, Status::Active);
        assert_eq!(client.notes, None);
    }

    #[test]
    fn name_is_trimmed_and_bounded_in_characters_not_bytes() {
        assert_eq!(ClientName::parse("  Ann  ").unwrap().as_str(), "Ann");
        assert!(ClientName::parse(&"é".repeat(200)).is_ok());
        assert!(ClientName::parse(&"é".repeat(201)).is_err());
        assert!(ClientName::parse("   ").is_err());
        assert!(ClientName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn phone_rules_follow_the_contract() {
        assert_eq!(
            Phone::parse(" (555) 123.4 ").unwrap().unwrap().as_str(),
            "(555) 123.4"
        );
        assert_eq!(Phone::parse("").unwrap(), None);
        assert_eq!(Phone::parse("   ").unwrap(), None);
        assert!(Phone::parse("12").is_err(), "fewer than 3 digits");
        assert!(Phone::parse("555-CALL").is_err(), "letters");
        assert!(Phone::parse(&"1".repeat(33)).is_err(), "too long");
        assert!(Phone::parse(&"1".repeat(32)).is_ok());
    }

    #[test]
    fn notes_are_bounded_at_ten_thousand_characters() {
        assert!(Notes::parse(&"x".repeat(10_000)).is_ok());
        assert!(Notes::parse(&"x".repeat(10_001)).is_err());
    }

    #[test]
    fn every_field_error_of_a_body_is_reported_together() {
        let body = object(json!({"phone": 5551234, "status": "gone", "notes": 1, "id": "x"}));

        let fields = fields_at_fault(NewClient::from_json(&body).unwrap_err());

        assert_eq!(fields, ["id", "name", "phone", "status", "notes"]);
    }

    #[test]
    fn null_name_and_status_are_refused_but_null_phone_and_notes_clear() {
        let refused = fields_at_fault(
            ClientPatch::from_json(&object(json!({"name": null, "status": null}))).unwrap_err(),
        );
        let patch = ClientPatch::from_json(&object(json!({"phone": null, "notes": null}))).unwrap();

        assert_eq!(refused, ["name", "status"]);
        assert_eq!(patch.phone, Some(None));
        assert_eq!(patch.notes, Some(None));
    }

    #[test]
    fn idempotency_keys_are_one_to_255_printable_ascii() {
        assert!(IdempotencyKey::parse(b"order-42 retry").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_err());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"tab\there").is_err());
        assert!(IdempotencyKey::parse("clé".as_bytes()).is_err());
    }

    #[test]
    fn fingerprints_compare_validated_fields_not_bytes() {
        let a =
            NewClient::from_json(&object(json!({"name": " Ann ", "status": "active"}))).unwrap();
        let b = NewClient::from_json(&object(json!({"name": "Ann"}))).unwrap();
        let c = NewClient::from_json(&object(json!({"name": "Ann", "notes": ""}))).unwrap();

        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(b.fingerprint(), c.fingerprint());
    }

    #[test]
    fn empty_patch_changes_nothing() {
        let patch = ClientPatch::from_json(&Map::new()).unwrap();

        assert_eq!(patch, ClientPatch::default());
    }

    #[test]
    fn server_owned_fields_are_refused_by_name() {
        let body = object(json!({"name": "A", "createdAt": "2026-01-01T00:00:00.000Z"}));

        assert_eq!(
            fields_at_fault(NewClient::from_json(&body).unwrap_err()),
            ["createdAt"]
        );
    }
}

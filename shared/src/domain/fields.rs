//! A client's fields as validated types: each can only hold a value its
//! rule accepts, so the code past the edge trusts them. Requests parse into
//! them ([`super::input`]); stored items are read back through the same
//! rules (their serde form is the plain string, checked on the way in).

use serde::{Deserialize, Serialize};

/// The longest name, in characters.
pub const NAME_MAX_CHARS: usize = 200;
/// The longest phone number, in characters.
pub const PHONE_MAX_CHARS: usize = 32;
/// The fewest digits a phone number may have.
pub const PHONE_MIN_DIGITS: usize = 3;
/// The longest notes, in characters.
pub const NOTES_MAX_CHARS: usize = 10_000;

/// A client's name: trimmed, 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientName(String);

impl ClientName {
    /// Trims `raw` and checks it; the error says what is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err("must not be empty".into());
        }
        if chars > NAME_MAX_CHARS {
            return Err(format!("must be at most {NAME_MAX_CHARS} characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A phone number as given (trimmed): 1–32 characters of digits, spaces and
/// `+ - ( ) .`, with at least 3 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// `Ok(None)` for the empty string, which clears the phone.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.chars().count() > PHONE_MAX_CHARS {
            return Err(format!("must be at most {PHONE_MAX_CHARS} characters"));
        }
        if !trimmed.chars().all(is_phone_char) {
            return Err("may contain only digits, spaces and + - ( ) .".into());
        }
        if trimmed.chars().filter(char::is_ascii_digit).count() < PHONE_MIN_DIGITS {
            return Err(format!("must contain at least {PHONE_MIN_DIGITS} digits"));
        }
        Ok(Some(Self(trimmed.to_owned())))
    }

    /// The phone number as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The phone number, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Characters a phone number may hold; also what makes a search query a phone search.
pub fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.')
}

/// Free-text notes, up to 10,000 characters, kept exactly as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Notes(String);

impl Notes {
    /// Checks the length of `raw` (kept untrimmed).
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > NOTES_MAX_CHARS {
            return Err(format!("must be at most {NOTES_MAX_CHARS} characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The notes.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The notes, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Serde's way in and out of the field types: the plain string, checked by
/// the field's rule (a stored value that breaks it is a corrupt item).
macro_rules! string_form {
    ($($field:ident => $parse:expr),* $(,)?) => {$(
        impl TryFrom<String> for $field {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                $parse(&text)
            }
        }

        impl From<$field> for String {
            fn from(value: $field) -> String {
                value.0
            }
        }
    )*};
}

string_form! {
    ClientName => ClientName::parse,
    Phone => |text: &str| Phone::parse(text)?.ok_or_else(|| "must not be empty".to_owned()),
    Notes => Notes::parse,
}

//! Search: which fields a query matches, and how each is normalized on both
//! sides so that matching is a plain substring test.
//!
//! [`SEARCHABLE_FIELDS`] is the one table of searchable fields: for each,
//! its normalizer for a client's value and for a query, the attribute of a
//! client item that keeps the normalized value, and the tag of its search
//! index partitions. The index writer, the candidate reader and the check
//! of every candidate all read it (`store::search_index`, `store::listing`).
//!
//! - Names match case-insensitively by Unicode lower-casing ([`fold_name`]).
//! - A query made only of phone characters and holding a digit also matches
//!   on the digits of the phone ([`phone_digits`]): `5551234`, `555-1234` and
//!   `(555) 1234` all find `+1 555-1234`.

use super::fields::is_phone_char;
use super::model::Client;

/// A field search matches.
#[derive(Debug, Clone, Copy)]
pub struct SearchableField {
    /// Names its search index partitions (`ORG#<org>#<tag>#<first char>`).
    pub tag: &'static str,
    /// The attribute of a client item that keeps the normalized value.
    pub stored_as: &'static str,
    /// The normalized value of a client's field; `None` when it has none.
    pub of_client: fn(&Client) -> Option<String>,
    /// What a (trimmed, non-empty) query matches in this field; `None` when
    /// the query cannot match it.
    pub of_query: fn(&str) -> Option<String>,
}

/// Every searchable field, in the order a [`SearchTerm`]'s parts follow.
/// Adding one is one more line here (the store writes, reads and checks it).
pub const SEARCHABLE_FIELDS: [SearchableField; 2] = [
    SearchableField {
        tag: "NAME",
        stored_as: "nameFold",
        of_client: |client| Some(fold_name(client.name.as_str())),
        of_query: |query| Some(fold_name(query)),
    },
    SearchableField {
        tag: "PHONE",
        stored_as: "phoneDigits",
        of_client: |client| client.phone.as_ref().map(|p| phone_digits(p.as_str())),
        of_query: |query| {
            let is_phone_query =
                query.chars().all(is_phone_char) && query.chars().any(|c| c.is_ascii_digit());
            is_phone_query.then(|| phone_digits(query))
        },
    },
];

/// The case-folded form of a name, stored as `nameFold` and used to sort by name.
pub fn fold_name(name: &str) -> String {
    name.to_lowercase()
}

/// The ASCII digits of a phone number, in order.
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// The normalized value of each searchable field of `client`, in the order
/// of [`SEARCHABLE_FIELDS`].
pub fn searchable_values(client: &Client) -> Vec<Option<String>> {
    SEARCHABLE_FIELDS
        .iter()
        .map(|field| (field.of_client)(client))
        .collect()
}

/// A parsed, non-empty search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    /// What the query matches in each searchable field, in the order of
    /// [`SEARCHABLE_FIELDS`] (`None`: not that field).
    pub parts: Vec<Option<String>>,
}

impl SearchTerm {
    /// `None` for a query that is empty after trimming (no search).
    pub fn parse(query: &str) -> Option<Self> {
        let trimmed = query.trim();
        if trimmed.is_empty() {
            return None;
        }
        let parts = SEARCHABLE_FIELDS
            .iter()
            .map(|field| (field.of_query)(trimmed))
            .collect();
        Some(Self { parts })
    }

    /// The matching rule: some field's normalized value (`values`, in the
    /// order of [`SEARCHABLE_FIELDS`]) contains what the query matches in it.
    pub fn matches<S: AsRef<str>>(&self, values: &[Option<S>]) -> bool {
        self.parts
            .iter()
            .zip(values)
            .any(|(part, value)| match (part, value) {
                (Some(part), Some(value)) => value.as_ref().contains(part.as_str()),
                _ => false,
            })
    }

    /// Whether `client` matches.
    pub fn matches_client(&self, client: &Client) -> bool {
        self.matches(&searchable_values(client))
    }

    /// The term as text, to bind a cursor to it: the first part, then the
    /// others as `|Some("…")`/`|None` (the form cursors have always carried).
    pub fn canonical(&self) -> String {
        let mut parts = self.parts.iter();
        let mut text = parts.next().cloned().flatten().unwrap_or_default();
        for part in parts {
            text.push_str(&format!("|{part:?}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_binds_cursors_as_it_always_has() {
        let term = SearchTerm::parse("555-12").unwrap();

        assert_eq!(term.canonical(), "555-12|Some(\"55512\")");
        assert_eq!(SearchTerm::parse("Ann").unwrap().canonical(), "ann|None");
    }

    fn matches(query: &str, name: &str, phone: Option<&str>) -> bool {
        let term = SearchTerm::parse(query).expect("non-empty query");
        term.matches(&[Some(fold_name(name)), phone.map(phone_digits)])
    }

    #[test]
    fn phone_queries_in_any_notation_find_the_phone_by_digits() {
        for query in ["5551234", "555-1234", "(555) 1234", " 555 1234 ", "+1 555"] {
            assert!(matches(query, "John Doe", Some("+1 555-1234")), "{query}");
        }
        assert!(!matches("5559", "John Doe", Some("+1 555-1234")));
    }

    #[test]
    fn names_match_by_substring_with_unicode_lower_casing() {
        assert!(matches("doe", "John Doe", None));
        assert!(matches("ÉLO", "Chloé Éloïse", None));
        assert!(matches("straße", "STRAßE Müller", None));
        assert!(matches("σοφ", "ΣΟΦΊΑ", None));
        assert!(!matches("jane", "John Doe", None));
    }

    #[test]
    fn a_query_with_letters_is_not_a_phone_search() {
        let term = SearchTerm::parse("555 main").unwrap();

        assert_eq!(term.parts[1], None);
        assert!(!term.matches(&[Some("john"), Some("5551234")]));
    }

    #[test]
    fn a_digit_query_also_matches_names_that_contain_it() {
        assert!(matches("42", "Room 42 Ltd", None));
    }

    #[test]
    fn blank_queries_are_no_search() {
        assert_eq!(SearchTerm::parse("   "), None);
        assert_eq!(SearchTerm::parse(""), None);
    }

    #[test]
    fn punctuation_only_queries_search_names_only() {
        let term = SearchTerm::parse("--").unwrap();

        assert_eq!(term.parts[1], None);
    }
}

//! Search normalization: what is stored for a client and what a query is
//! turned into, so that matching is a plain substring test on both sides.
//!
//! - Names match case-insensitively by Unicode lower-casing ([`fold_name`]).
//! - A query made only of phone characters and holding a digit also matches
//!   on the digits of the phone ([`phone_digits`]): `5551234`, `555-1234` and
//!   `(555) 1234` all find `+1 555-1234`.

use super::input::is_phone_char;

/// The case-folded form of a name, stored as `nameFold` and used to sort by name.
pub fn fold_name(name: &str) -> String {
    name.to_lowercase()
}

/// The ASCII digits of a phone number, in order.
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// A parsed, non-empty search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    /// Matched as a substring of the folded name.
    pub name_fold: String,
    /// Matched as a substring of the phone's digits, when the query is a phone search.
    pub phone_digits: Option<String>,
}

impl SearchTerm {
    /// `None` for a query that is empty after trimming (no search).
    pub fn parse(query: &str) -> Option<Self> {
        let trimmed = query.trim();
        if trimmed.is_empty() {
            return None;
        }
        let is_phone_query =
            trimmed.chars().all(is_phone_char) && trimmed.chars().any(|c| c.is_ascii_digit());
        Some(Self {
            name_fold: fold_name(trimmed),
            phone_digits: is_phone_query.then(|| phone_digits(trimmed)),
        })
    }

    /// The matching rule, over a client's stored `nameFold` and
    /// `phoneDigits`. The store finds candidates in its suffix search index
    /// (`store::search_index`: one `begins_with` `Query` per part, a
    /// superset of the matches) and keeps those whose current client item
    /// passes this test (`store::listing`).
    pub fn matches(&self, name_fold: &str, phone_digits: Option<&str>) -> bool {
        name_fold.contains(&self.name_fold)
            || matches!(
                (&self.phone_digits, phone_digits),
                (Some(query), Some(phone)) if phone.contains(query.as_str())
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: &str, name: &str, phone: Option<&str>) -> bool {
        let term = SearchTerm::parse(query).expect("non-empty query");
        term.matches(&fold_name(name), phone.map(phone_digits).as_deref())
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

        assert_eq!(term.phone_digits, None);
        assert!(!term.matches("john", Some("5551234")));
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

        assert_eq!(term.phone_digits, None);
    }
}

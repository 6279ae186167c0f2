//! The validated parameters of `GET /clients`.
//!
//! Every parameter of the contract is parsed once here; an unknown parameter,
//! a repeated one, or a value outside its rule is a `validation_error` naming it.

use super::model::Status;
use super::search::SearchTerm;
use super::validation::{FieldError, FieldErrors};

/// Clients per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 100;
/// The longest search `query`, in characters (after trimming).
pub const MAX_QUERY_CHARS: usize = 100;
/// The longest `cursor` accepted.
pub const MAX_CURSOR_LEN: usize = 4096;
/// Offsets beyond this are refused: no organization is that large, and it
/// keeps a single request's work bounded.
pub const MAX_OFFSET: u64 = 1_000_000_000;
/// A search counts its matches exactly up to this many; with more, its
/// `total` is this number and a lower bound ([`TotalRelation::Gte`]).
pub const MATCH_COUNT_LIMIT: u64 = 1_000;

/// What a list's `total` is (`totalRelation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalRelation {
    /// `eq`: `total` is exact.
    Eq,
    /// `gte`: there are at least `total` (a search with more than
    /// [`MATCH_COUNT_LIMIT`] matches).
    Gte,
}

impl TotalRelation {
    /// The `total` and relation of a search that found `matches` matches
    /// (counted up to at least [`MATCH_COUNT_LIMIT`] + 1).
    pub fn of_matches(matches: u64) -> (u64, Self) {
        if matches > MATCH_COUNT_LIMIT {
            (MATCH_COUNT_LIMIT, Self::Gte)
        } else {
            (matches, Self::Eq)
        }
    }

    /// As the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Gte => "gte",
        }
    }
}

const PARAMETERS: [&str; 7] = [
    "limit",
    "offset",
    "query",
    "sortBy",
    "sortOrder",
    "status",
    "cursor",
];

/// What a list is sorted by (`sortBy`); ties are always broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `name`: by the case-folded name.
    Name,
    /// `phone`: by the phone as given; clients without one come last ascending.
    Phone,
    /// `status`: active before inactive ascending.
    Status,
    /// `createdAt`, the default.
    CreatedAt,
}

impl SortField {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "name" => Some(Self::Name),
            "phone" => Some(Self::Phone),
            "status" => Some(Self::Status),
            "createdAt" => Some(Self::CreatedAt),
            _ => None,
        }
    }
}

/// `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `asc`, the default.
    Asc,
    /// `desc`.
    Desc,
}

/// Which statuses a list includes: `None` means every status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusFilter(Option<Status>);

impl StatusFilter {
    /// Every status.
    pub const ALL: Self = Self(None);

    /// One status only.
    pub fn only(status: Status) -> Self {
        Self(Some(status))
    }

    /// The single status kept, or `None` when every status is kept.
    pub fn single(self) -> Option<Status> {
        self.0
    }

    /// `active,inactive` style; empty items are ignored; both or none mean all.
    fn parse(text: &str) -> Result<Self, String> {
        let mut seen = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let status = Status::parse(item)
                .ok_or_else(|| format!("unknown status {item:?}: use active, inactive or both"))?;
            if !seen.contains(&status) {
                seen.push(status);
            }
        }
        Ok(match seen.as_slice() {
            [only] => Self::only(*only),
            _ => Self::ALL,
        })
    }
}

/// The parameters of `GET /clients`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Clients per page, 1–100.
    pub limit: u32,
    /// Matching clients to skip before the page.
    pub offset: u64,
    /// The search, if `query` was given and not blank.
    pub search: Option<SearchTerm>,
    /// The sort field.
    pub sort_by: SortField,
    /// The sort direction.
    pub sort_order: SortOrder,
    /// Which statuses are listed.
    pub status: StatusFilter,
    /// Where to resume: a `nextCursor` of an earlier page, as sent (the HTTP
    /// edge checks and decodes it, see `http::cursor`).
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            offset: 0,
            search: None,
            sort_by: SortField::CreatedAt,
            sort_order: SortOrder::Asc,
            status: StatusFilter::ALL,
            cursor: None,
        }
    }
}

impl ListQuery {
    /// Parses `(name, value)` pairs of a query string (already percent-decoded).
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, FieldErrors> {
        let mut query = Self::default();
        let mut errors: Vec<FieldError> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            let Some(&known) = PARAMETERS.iter().find(|p| **p == name) else {
                if !errors.iter().any(|e| e.field == name) {
                    errors.push(FieldError::new(name, "is not a known parameter"));
                }
                continue;
            };
            if seen.contains(&known) {
                if !errors.iter().any(|e| e.field == known) {
                    errors.push(FieldError::new(known, "must be given at most once"));
                }
                continue;
            }
            seen.push(known);
            if let Err(message) = query.set(known, value) {
                errors.push(FieldError::new(known, message));
            }
        }
        if query.cursor.is_some()
            && seen.contains(&"offset")
            && !errors.iter().any(|e| e.field == "cursor")
        {
            errors.push(FieldError::new("cursor", "cannot be combined with offset"));
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(FieldErrors(errors))
        }
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "limit" => {
                self.limit = parse_integer(value)
                    .filter(|n| (1..=u64::from(MAX_LIMIT)).contains(n))
                    .ok_or_else(|| format!("must be an integer from 1 to {MAX_LIMIT}"))?
                    as u32;
            }
            "offset" => {
                self.offset = parse_integer(value)
                    .filter(|n| *n <= MAX_OFFSET)
                    .ok_or_else(|| format!("must be an integer from 0 to {MAX_OFFSET}"))?;
            }
            "query" => {
                let trimmed = value.trim();
                if trimmed.chars().count() > MAX_QUERY_CHARS {
                    return Err(format!("must be at most {MAX_QUERY_CHARS} characters"));
                }
                self.search = SearchTerm::parse(trimmed);
            }
            "sortBy" => {
                self.sort_by = SortField::parse(value)
                    .ok_or("must be one of: name, phone, status, createdAt")?;
            }
            "sortOrder" => {
                self.sort_order = match value {
                    "asc" => SortOrder::Asc,
                    "desc" => SortOrder::Desc,
                    _ => return Err("must be asc or desc".into()),
                };
            }
            "status" => self.status = StatusFilter::parse(value)?,
            "cursor" => {
                if value.is_empty() || value.len() > MAX_CURSOR_LEN {
                    return Err("is not a cursor of this API".into());
                }
                self.cursor = Some(value.to_owned());
            }
            _ => unreachable!("only known parameters are set"),
        }
        Ok(())
    }
}

/// A plain non-negative decimal integer: no sign, no fraction, no exponent.
fn parse_integer(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<ListQuery, FieldErrors> {
        ListQuery::parse(query.iter().copied())
    }

    fn fields_at_fault(query: &[(&str, &str)]) -> Vec<String> {
        match parse(query) {
            Err(errors) => errors.0.into_iter().map(|d| d.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_docs_page() {
        assert_eq!(parse(&[]).unwrap(), ListQuery::default());
        assert_eq!(ListQuery::default().limit, 50);
    }

    #[test]
    fn docs_page_filters_parse() {
        let query = parse(&[
            ("status", "active"),
            ("sortBy", "name"),
            ("sortOrder", "asc"),
            ("limit", "10"),
        ])
        .unwrap();

        assert_eq!(query.status, StatusFilter::only(Status::Active));
        assert_eq!(query.sort_by, SortField::Name);
        assert_eq!(query.limit, 10);
    }

    #[test]
    fn limit_outside_one_to_a_hundred_is_refused() {
        for bad in [
            "0",
            "101",
            "-1",
            "1.5",
            "ten",
            "",
            "1e2",
            " 5",
            "99999999999999999999999",
        ] {
            assert_eq!(fields_at_fault(&[("limit", bad)]), ["limit"], "{bad:?}");
        }
        assert_eq!(parse(&[("limit", "100")]).unwrap().limit, 100);
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        assert_eq!(fields_at_fault(&[("page", "2")]), ["page"]);
        assert_eq!(
            fields_at_fault(&[("limit", "1"), ("limit", "2")]),
            ["limit"]
        );
        assert_eq!(
            fields_at_fault(&[("sortby", "name")]),
            ["sortby"],
            "names are case-sensitive"
        );
    }

    #[test]
    fn status_filter_ignores_empty_items_and_treats_both_as_all() {
        let status = |text| parse(&[("status", text)]).unwrap().status;

        assert_eq!(status("active,inactive"), StatusFilter::ALL);
        assert_eq!(status(",inactive,"), StatusFilter::only(Status::Inactive));
        assert_eq!(status(""), StatusFilter::ALL);
        assert_eq!(status("active,active"), StatusFilter::only(Status::Active));
        assert_eq!(fields_at_fault(&[("status", "active,deleted")]), ["status"]);
    }

    #[test]
    fn query_is_trimmed_bounded_and_blank_means_no_search() {
        assert_eq!(parse(&[("query", "   ")]).unwrap().search, None);
        assert!(parse(&[("query", &"q".repeat(100))]).is_ok());
        assert_eq!(fields_at_fault(&[("query", &"q".repeat(101))]), ["query"]);
    }

    #[test]
    fn a_cursor_cannot_be_combined_with_an_offset() {
        assert!(parse(&[("cursor", "abc.def")]).unwrap().cursor.is_some());
        assert_eq!(
            fields_at_fault(&[("offset", "0"), ("cursor", "abc.def")]),
            ["cursor"]
        );
        assert_eq!(fields_at_fault(&[("cursor", "")]), ["cursor"]);
    }

    #[test]
    fn all_parameter_errors_are_reported_together() {
        assert_eq!(
            fields_at_fault(&[("sortBy", "email"), ("sortOrder", "up"), ("offset", "-3")]),
            ["sortBy", "sortOrder", "offset"]
        );
    }
}

//! Opaque list cursors: a page's end [`Position`] as the text of `nextCursor`
//! and `cursor`.
//!
//! A cursor is `base64url(JSON position) "." checksum`, the checksum being the
//! first 128 bits of SHA-256 over the organization and the position. It is
//! bound to the organization and to the list's shape (sort, order, status
//! filter, search): a cursor changed by hand, taken from another
//! organization or used with another query is refused (400 naming `cursor`).
//! It is an integrity check, not a secret: a cursor only ever says where to
//! resume inside the caller's own organization, which the key, not the
//! cursor, selects.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::domain::digest::sha256_hex;
use crate::domain::list_query::ListQuery;
use crate::domain::model::{ClientId, OrgId};
use crate::domain::position::Position;

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    shape: String,
    run: usize,
    key: String,
    id: String,
}

/// What a cursor is bound to besides the organization.
fn shape(query: &ListQuery) -> String {
    let search = query.search.as_ref().map(|term| term.canonical());
    sha256_hex(
        format!(
            "{:?}|{:?}|{:?}|{:?}",
            query.sort_by, query.sort_order, query.status, search
        )
        .as_bytes(),
    )[..16]
        .to_owned()
}

fn checksum(org: &OrgId, payload: &str) -> String {
    sha256_hex(format!("{org}\n{payload}").as_bytes())[..32].to_owned()
}

/// The cursor that resumes `query` of `org` after `position`.
pub fn encode(org: &OrgId, query: &ListQuery, position: &Position) -> String {
    let payload = serde_json::to_string(&Payload {
        v: 1,
        shape: shape(query),
        run: position.run,
        key: position.sort_key.clone(),
        id: position.id.to_string(),
    })
    .expect("a cursor payload serializes");
    let encoded = URL_SAFE_NO_PAD.encode(payload.as_bytes());
    format!("{encoded}.{}", checksum(org, &encoded))
}

/// The position a cursor resumes after; 400 naming `cursor` if it is not
/// a cursor of this organization's `query`.
pub fn decode(org: &OrgId, query: &ListQuery, cursor: &str) -> Result<Position, ApiError> {
    let invalid = |message: &str| ApiError::field("cursor", message);
    let (encoded, sum) = cursor
        .rsplit_once('.')
        .ok_or_else(|| invalid("is not a cursor of this API"))?;
    if checksum(org, encoded) != sum {
        return Err(invalid(
            "is not a cursor of this list: it was changed or belongs elsewhere",
        ));
    }
    let payload: Payload = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("is not a cursor of this API"))?;
    if payload.v != 1 || payload.shape != shape(query) {
        return Err(invalid(
            "belongs to a list with other sortBy, sortOrder, status or query",
        ));
    }
    Ok(Position {
        run: payload.run,
        sort_key: payload.key,
        id: ClientId::parse(&payload.id).ok_or_else(|| invalid("is not a cursor of this API"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::list_query::SortField;

    fn org(name: &str) -> OrgId {
        name.parse().unwrap()
    }

    fn position() -> Position {
        Position {
            run: 1,
            sort_key: "ann\u{1}x".into(),
            id: ClientId::new(),
        }
    }

    #[test]
    fn a_cursor_decodes_to_its_position_for_the_same_org_and_query() {
        let query = ListQuery::default();
        let cursor = encode(&org("acme"), &query, &position());

        assert_eq!(
            decode(&org("acme"), &query, &cursor).unwrap().sort_key,
            "ann\u{1}x"
        );
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "URL-safe"
        );
    }

    #[test]
    fn foreign_tampered_and_mismatched_cursors_are_refused() {
        let query = ListQuery::default();
        let cursor = encode(&org("acme"), &query, &position());
        let mut tampered = cursor.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        let by_name = ListQuery {
            sort_by: SortField::Name,
            ..ListQuery::default()
        };

        for (who, q, text) in [
            (org("other"), &query, cursor.clone()),
            (org("acme"), &query, String::from_utf8(tampered).unwrap()),
            (org("acme"), &by_name, cursor.clone()),
            (org("acme"), &query, "garbage".to_owned()),
        ] {
            let error = decode(&who, q, &text).unwrap_err();
            assert_eq!(error.code(), "validation_error");
        }
    }
}

//! Reading a request: headers, path parameters and the JSON body, each
//! checked once here and turned into a validated value or an [`ApiError`].

use std::fmt;

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::input::IdempotencyKey;
use crate::domain::model::{ClientId, ExpectedVersion};

/// The largest request body accepted (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API Gateway request id (the local server sets a fresh one), else the Lambda one.
pub fn request_id(request: &Request) -> String {
    let gateway_id = request
        .request_context_ref()
        .and_then(|context| match context {
            RequestContext::ApiGatewayV2(context) => context.request_id.clone(),
            #[allow(unreachable_patterns)]
            _ => None,
        });
    gateway_id
        .filter(|id| !id.is_empty())
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The `Authorization` header, when it is present and readable text.
pub fn authorization(request: &Request) -> Option<&str> {
    request.headers().get(AUTHORIZATION)?.to_str().ok()
}

/// The versions an `If-Match` value accepts: `*` is any; otherwise those
/// named by strong tags (`"3"`, the form of [`super::response::etag`]); weak
/// or foreign tags name none.
pub fn parse_if_match(value: &str) -> ExpectedVersion {
    if value.trim() == "*" {
        return ExpectedVersion::Any;
    }
    ExpectedVersion::OneOf(
        value
            .split(',')
            .filter_map(|tag| {
                tag.trim()
                    .strip_prefix('"')?
                    .strip_suffix('"')?
                    .parse()
                    .ok()
            })
            .collect(),
    )
}

/// The versions the request's `If-Match` accepts: any without the header;
/// none for an unreadable value.
pub fn if_match(request: &Request) -> ExpectedVersion {
    match request.headers().get(lambda_http::http::header::IF_MATCH) {
        None => ExpectedVersion::Any,
        Some(value) => parse_if_match(value.to_str().unwrap_or("")),
    }
}

/// The request's `Idempotency-Key`, if it has one (400 when malformed).
pub fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    request
        .headers()
        .get("idempotency-key")
        .map(|value| {
            IdempotencyKey::parse(value.as_bytes())
                .map_err(|message| ApiError::field("Idempotency-Key", message))
        })
        .transpose()
}

/// The `{id}` of `/clients/{id}`; anything that is not a client id is no client.
pub fn client_id(request: &Request) -> Result<ClientId, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first("id"))
        .and_then(ClientId::parse)
        .ok_or(ApiError::NotFound)
}

/// The body as a JSON object: checks size, media type, UTF-8, syntax, that
/// it is an object, and that no member name is repeated.
pub fn json_object_body(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if let Some(content_type) = request.headers().get(CONTENT_TYPE) {
        if !is_json_media_type(content_type.to_str().unwrap_or("")) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson(
            "The request body must be a JSON object; it is empty.",
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::InvalidJson("The request body is not valid UTF-8."))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let object = deserializer
        .deserialize_any(ObjectVisitor)
        .and_then(|object| deserializer.end().map(|()| object));
    object.map_err(|error| {
        ApiError::InvalidJson(
            if error.is_data() && error.to_string().starts_with(NOT_AN_OBJECT) {
                "The request body must be a JSON object."
            } else if error.to_string().starts_with(DUPLICATE_MEMBER) {
                "The request body repeats a member name."
            } else {
                "The request body is not valid JSON."
            },
        )
    })
}

/// `application/json`, with any parameters (`; charset=utf-8`), any case.
fn is_json_media_type(value: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

const NOT_AN_OBJECT: &str = "not an object";
const DUPLICATE_MEMBER: &str = "duplicate member";

/// Reads a top-level JSON object, refusing repeated member names (which
/// `serde_json::Map` would otherwise resolve silently, last one winning).
struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value::<Value>()?;
            if object.insert(key, value).is_some() {
                return Err(de::Error::custom(DUPLICATE_MEMBER));
            }
        }
        Ok(object)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(NOT_AN_OBJECT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(content_type: Option<&str>, body: &[u8]) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/api/v1/clients");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body.to_vec())).unwrap()
    }

    fn body_error(content_type: Option<&str>, body: &[u8]) -> ApiError {
        json_object_body(&request(content_type, body)).expect_err("should be refused")
    }

    #[test]
    fn json_objects_are_accepted_with_charset_and_any_case() {
        for content_type in [
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            None,
        ] {
            let object = json_object_body(&request(content_type, br#"{"name":"A"}"#)).unwrap();
            assert_eq!(object["name"], "A");
        }
    }

    #[test]
    fn other_media_types_are_unsupported() {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "",
        ] {
            assert_eq!(
                body_error(Some(content_type), b"{}").status(),
                415,
                "{content_type}"
            );
        }
    }

    #[test]
    fn non_objects_and_broken_json_are_invalid_json() {
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"1",
            b"null",
            b"{",
            b"{} {}",
            b"",
            b"  ",
            b"\xff\xfe",
            b"{\"a\":1,\"a\":2}",
        ] {
            assert_eq!(
                body_error(Some("application/json"), body).code(),
                "invalid_json",
                "{body:?}"
            );
        }
    }

    #[test]
    fn deeply_nested_json_is_invalid_not_a_crash() {
        let body = format!("{{\"name\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));

        assert_eq!(body_error(None, body.as_bytes()).code(), "invalid_json");
    }

    #[test]
    fn bodies_over_64_kib_are_too_large() {
        let ok = format!("{{\"notes\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES - 12));
        let big = format!("{{\"notes\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES - 11));

        assert_eq!(ok.len(), MAX_BODY_BYTES);
        assert!(json_object_body(&request(None, ok.as_bytes())).is_ok());
        assert_eq!(body_error(None, big.as_bytes()).status(), 413);
    }

    #[test]
    fn if_match_accepts_star_and_lists_of_strong_tags_only() {
        assert!(parse_if_match("*").accepts(7));
        assert!(parse_if_match("\"7\"").accepts(7));
        assert!(parse_if_match("\"1\", \"7\"").accepts(7));
        assert!(!parse_if_match("W/\"7\"").accepts(7));
        assert!(!parse_if_match("7").accepts(7));
        assert!(!parse_if_match("\"6\"").accepts(7));
        assert!(!parse_if_match("").accepts(7));
    }
}

//! `GET /api/v1/openapi.json`: the API's OpenAPI description, as JSON, and
//! `GET /api/v1/docs`: the docs page rendered from it ([`docs`]).
//!
//! The description is the repository's `openapi.yaml`, compiled into the
//! binary and converted to JSON once per container. The endpoints need no
//! API key and touch no table.

pub mod description;
pub mod docs;

use lambda_http::{Body, Request, Response};
use shared::http::{json_response, request_id};

pub use description::{description, OPENAPI_YAML};

/// Whether a request path is the docs page's (`…/docs`) rather than `…/openapi.json`.
pub fn is_docs_path(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/docs")
}

pub fn handle(request: Request) -> Response<Body> {
    let request_id = request_id(&request);
    if is_docs_path(request.uri().path()) {
        if let Ok(page) = docs::page() {
            return docs::response(&request, page, &request_id);
        }
    }
    match description() {
        Ok(description) => json_response(200, description, &request_id, &[]),
        // Unreachable in a built function: `main` converts the description before the first event.
        Err(_) => {
            let error = shared::ApiError::internal("openapi.yaml does not parse");
            json_response(error.status(), &error.body(), &request_id, &[])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn the_description_is_openapi_3_1_json_with_every_route() {
        let description = description().expect("openapi.yaml parses");

        assert_eq!(description["openapi"], "3.1.0");
        for path in ["/clients", "/clients/{id}", "/openapi.json"] {
            assert!(description["paths"].get(path).is_some(), "{path}");
        }
    }

    #[test]
    fn the_handler_answers_the_description_with_a_request_id() {
        let request = lambda_http::http::Request::builder()
            .uri("/api/v1/openapi.json")
            .body(Body::Empty)
            .unwrap();

        let response = handle(request);

        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.headers().contains_key("x-request-id"));
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(&body, description().unwrap());
    }

    #[test]
    fn the_handler_answers_the_docs_page_on_the_docs_path() {
        let request = lambda_http::http::Request::builder()
            .uri("/api/v1/docs")
            .body(Body::Empty)
            .unwrap();

        let response = handle(request);

        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert!(response.headers().contains_key("content-security-policy"));
        assert!(response.headers().contains_key("x-request-id"));
    }
}

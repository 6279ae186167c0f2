//! `GET /api/v1/docs`: the API's docs page, rendered from `openapi.yaml` by
//! Redoc in the browser.
//!
//! The page is one self-contained HTML document: Redoc's standalone bundle
//! (vendored at a pinned version by `scripts/vendor-redoc`, compiled in with
//! `include_str!`), the description as JSON and a one-line script that hands
//! it to Redoc. Nothing is loaded from another host, and the
//! `Content-Security-Policy` says so: scripts only by the SHA-256 of the two
//! inline scripts, no connections, frames, forms or fonts from anywhere
//! (`connect-src 'self'` for the one fetch a reader may make: `openapi.json`);
//! the icon is an empty `data:` URL, so browsers do not ask for `/favicon.ico`.
//! Styles must be `'unsafe-inline'`: Redoc's styled-components inject
//! `<style>` elements at run time. Redoc's search index runs in a Web Worker
//! it creates from a `blob:` URL, hence `worker-src blob:`.
//!
//! The page is built once per container, on the first request, so the
//! function's init (cold start) does no more work than before. It is cached
//! by browsers and CDNs for five minutes and revalidated with its `ETag`
//! (the SHA-256 of the page): a matching `If-None-Match` answers 304.
//!
//! API Gateway HTTP APIs do not compress, so the function does: a caller
//! that accepts gzip gets the page gzipped (about 0.33 MB instead of 1.14 MB;
//! compressed once per container, with the page), with its own `ETag`
//! (`"…-gzip"`) and `Vary: Accept-Encoding`.

use std::sync::OnceLock;

use flate2::{write::GzEncoder, Compression};
use lambda_http::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use std::io::Write as _;

/// Redoc's standalone bundle, `redoc@` the version in `vendor/redoc.version`.
pub const REDOC_JS: &str = include_str!("../vendor/redoc.standalone.js");
/// `redoc@VERSION sha512-…`: the npm package the bundle was taken from and its integrity.
pub const REDOC_VERSION: &str = include_str!("../vendor/redoc.version");

/// How long browsers and caches may use the page before revalidating it.
pub const CACHE_CONTROL_VALUE: &str = "public, max-age=300";

/// The page and the headers that go with it.
#[derive(Debug)]
pub struct DocsPage {
    pub html: String,
    /// `"<first 32 hex digits of the SHA-256 of html>"`.
    pub etag: String,
    /// The page gzipped, for callers that accept it.
    pub gzip: Vec<u8>,
    /// `etag` with `-gzip` before the closing quote.
    pub gzip_etag: String,
    pub content_security_policy: String,
}

fn sha256_source(script: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(script.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` escaped.
fn script_safe_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Builds the page from a description (the served one in [`page`]).
pub fn build(description: &serde_json::Value) -> DocsPage {
    let title = description["info"]["title"].as_str().unwrap_or("API");
    let init = format!(
        "Redoc.init({}, {{\"hideDownloadButton\": true, \"expandResponses\": \"200,201\", \
         \"pathInMiddlePanel\": true, \"requiredPropsFirst\": true, \"sortPropsAlphabetically\": false, \
         \"theme\": {{\"typography\": {{\"fontFamily\": \"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\", \
         \"headings\": {{\"fontFamily\": \"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\"}}, \
         \"code\": {{\"fontFamily\": \"ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace\"}}}}}}}}, \
         document.getElementById(\"redoc\"));",
        script_safe_json(description)
    );
    let content_security_policy = format!(
        "default-src 'none'; script-src {} {}; style-src 'unsafe-inline'; img-src data: 'self'; \
         font-src data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        sha256_source(REDOC_JS),
        sha256_source(&init)
    );
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} - docs</title>\n<link rel=\"icon\" href=\"data:,\">\n</head>\n<body style=\"margin:0\">\n\
         <noscript>This page needs JavaScript. The description itself is at <a href=\"openapi.json\">openapi.json</a>.</noscript>\n\
         <div id=\"redoc\"></div>\n<script>{REDOC_JS}</script>\n<script>{init}</script>\n</body>\n</html>\n",
        title = title.replace('<', "&lt;")
    );
    let digest = Sha256::digest(html.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(html.as_bytes())
        .expect("writing to a Vec cannot fail");
    let gzip = encoder.finish().expect("writing to a Vec cannot fail");
    DocsPage {
        html,
        etag: format!("\"{hex}\""),
        gzip,
        gzip_etag: format!("\"{hex}-gzip\""),
        content_security_policy,
    }
}

/// The page of the served description, built on first use.
pub fn page() -> Result<&'static DocsPage, &'static str> {
    static PAGE: OnceLock<DocsPage> = OnceLock::new();
    let description = crate::description::description()?;
    Ok(PAGE.get_or_init(|| build(description)))
}

/// Whether an `If-None-Match` value names `etag` (or is `*`).
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Whether an `Accept-Encoding` value accepts gzip (named, or `*`, without `q=0`).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding == "gzip" || coding == "*") && !refused
    })
}

/// The docs page response: 200 with the page (gzipped when the caller
/// accepts it), or 304 when the caller has it.
pub fn response(request: &Request, page: &DocsPage, request_id: &str) -> Response<Body> {
    let gzip = request
        .headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(accepts_gzip);
    let etag = if gzip { &page.gzip_etag } else { &page.etag };
    let not_modified = request
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| matches(value, etag));
    let mut builder = Response::builder()
        .header(ETAG, etag.as_str())
        .header(VARY, "accept-encoding")
        .header(CACHE_CONTROL, CACHE_CONTROL_VALUE)
        .header("x-request-id", request_id)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header(
            "content-security-policy",
            page.content_security_policy.as_str(),
        );
    let response = if not_modified {
        builder.status(304).body(Body::Empty)
    } else if gzip {
        builder = builder.header(CONTENT_ENCODING, "gzip");
        builder
            .status(200)
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::Binary(page.gzip.clone()))
    } else {
        builder
            .status(200)
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::Text(page.html.clone()))
    };
    response.expect("status and headers are valid by construction")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(if_none_match: Option<&str>) -> Request {
        request_with(if_none_match, None)
    }

    fn request_with(if_none_match: Option<&str>, accept_encoding: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder().uri("/api/v1/docs");
        if let Some(codings) = accept_encoding {
            builder = builder.header("accept-encoding", codings);
        }
        if let Some(tag) = if_none_match {
            builder = builder.header("if-none-match", tag);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn the_page_carries_redoc_and_the_served_description_and_nothing_from_another_host() {
        let page = page().unwrap();

        assert!(page.html.contains(REDOC_JS));
        assert!(page.html.contains("\"operationId\":\"listClients\""));
        assert!(!page.html.contains("<script src"), "no external script");
        assert!(
            !page.html.contains("href=\"http"),
            "no external stylesheet, font or icon"
        );
        assert!(
            !REDOC_JS.contains("cdn.redoc.ly"),
            "the vendored bundle's logo is inline"
        );
        assert!(REDOC_VERSION.starts_with("redoc@2.5.4 sha512-"));
    }

    #[test]
    fn the_compiled_in_bundle_is_the_one_vendor_redoc_recorded() {
        let recorded = REDOC_VERSION
            .split("sha256 ")
            .nth(1)
            .and_then(|rest| rest.get(..64))
            .expect("redoc.version records the bundle's sha256");
        let actual: String = Sha256::digest(REDOC_JS.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();

        assert_eq!(
            actual, recorded,
            "run scripts/vendor-redoc rather than editing the bundle"
        );
    }

    #[test]
    fn the_csp_allows_exactly_the_two_inline_scripts_by_hash() {
        let page = page().unwrap();
        let csp = &page.content_security_policy;

        assert!(csp.starts_with("default-src 'none'; "));
        let script_src = csp
            .split("; ")
            .find_map(|directive| directive.strip_prefix("script-src "))
            .unwrap();
        assert_eq!(script_src.matches("'sha256-").count(), 2, "{script_src}");
        assert!(
            !csp.contains("unsafe-eval") && !csp.contains("http"),
            "{csp}"
        );
        // Each script element starts a line (the bundle itself mentions `<script>`).
        let inline: Vec<&str> = page
            .html
            .split("\n<script>")
            .skip(1)
            .map(|rest| rest.split("</script>").next().unwrap())
            .collect();
        assert_eq!(inline.len(), 2);
        for script in inline {
            assert!(script_src.contains(&sha256_source(script)));
        }
    }

    #[test]
    fn the_description_cannot_close_the_script_element_it_sits_in() {
        let page =
            build(&serde_json::json!({"info": {"title": "A", "description": "</script><b>"}}));

        assert!(page.html.contains("\\u003c/script\\u003e\\u003cb\\u003e"));
        assert_eq!(page.html.matches("</script>").count(), 2);
        assert!(
            !REDOC_JS.contains("</script"),
            "the bundle cannot be inlined as it is"
        );
    }

    #[test]
    fn a_request_with_the_current_etag_is_answered_304_without_a_body() {
        let page = page().unwrap();

        let fresh = response(&request(None), page, "r1");
        let revalidated = response(&request(Some(&page.etag)), page, "r2");
        let listed = response(
            &request(Some(&format!("\"other\", W/{}", page.etag))),
            page,
            "r3",
        );
        let stale = response(&request(Some("\"other\"")), page, "r4");

        assert_eq!(fresh.status(), 200);
        assert_eq!(fresh.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(fresh.headers()["cache-control"], CACHE_CONTROL_VALUE);
        assert_eq!(fresh.headers()["etag"], page.etag.as_str());
        assert_eq!(revalidated.status(), 304);
        assert!(revalidated.body().is_empty());
        assert_eq!(revalidated.headers()["etag"], page.etag.as_str());
        assert_eq!(listed.status(), 304);
        assert_eq!(stale.status(), 200);
    }

    #[test]
    fn a_caller_that_accepts_gzip_gets_the_page_gzipped_with_its_own_etag() {
        use std::io::Read as _;
        let page = page().unwrap();

        let gzipped = response(&request_with(None, Some("br, gzip;q=0.8")), page, "r1");
        let refused = response(&request_with(None, Some("gzip;q=0, identity")), page, "r2");
        let revalidated = response(
            &request_with(Some(&page.gzip_etag), Some("gzip")),
            page,
            "r3",
        );

        assert_eq!(gzipped.status(), 200);
        assert_eq!(gzipped.headers()["content-encoding"], "gzip");
        assert_eq!(gzipped.headers()["vary"], "accept-encoding");
        assert_eq!(gzipped.headers()["etag"], page.gzip_etag.as_str());
        let mut html = String::new();
        flate2::read::GzDecoder::new(gzipped.body().as_ref())
            .read_to_string(&mut html)
            .unwrap();
        assert_eq!(html, page.html);
        assert!(
            page.gzip.len() * 3 < page.html.len(),
            "{} bytes gzipped",
            page.gzip.len()
        );
        assert!(refused.headers().get("content-encoding").is_none());
        assert_eq!(refused.headers()["etag"], page.etag.as_str());
        assert_eq!(revalidated.status(), 304);
    }
}

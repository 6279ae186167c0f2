//! The cold-start baseline of `scripts/bench`: the smallest lambda_http
//! function, built with the same profile as the API's functions, answering
//! every event with a fixed JSON body.

use lambda_http::http::HeaderValue;
use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(|_request: Request| async {
        let mut response = Response::new(Body::from(r#"{"hello":"world"}"#));
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

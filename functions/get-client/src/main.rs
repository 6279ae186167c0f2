//! The `get-client` Lambda function: wiring only. The handler is [`get_client::handle`].

fn main() -> Result<(), lambda_http::Error> {
    shared::function::run(get_client::handle)
}

//! The `update-client` Lambda function: wiring only. The handler is [`update_client::handle`].

fn main() -> Result<(), lambda_http::Error> {
    shared::function::run(update_client::handle)
}

//! The `create-client` Lambda function: wiring only. The handler is [`create_client::handle`].

fn main() -> Result<(), lambda_http::Error> {
    shared::function::run(create_client::handle)
}

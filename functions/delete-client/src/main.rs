//! The `delete-client` Lambda function: wiring only. The handler is [`delete_client::handle`].

fn main() -> Result<(), lambda_http::Error> {
    shared::function::run(delete_client::handle)
}

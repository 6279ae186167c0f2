//! The `list-clients` Lambda function: wiring only. The handler is [`list_clients::handle`].

fn main() -> Result<(), lambda_http::Error> {
    shared::function::run(list_clients::handle)
}

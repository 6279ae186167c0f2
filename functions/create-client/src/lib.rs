//! `POST /api/v1/clients`: creates a client; answers 201 with `Location`.

use lambda_http::{Body, Request, Response};
use shared::http::{json_object_body, respond, Reply};
use shared::input::NewClient;
use shared::{ApiError, App};

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(&request, create_client(app, &request).await)
}

async fn create_client(app: &App, request: &Request) -> Result<Reply, ApiError> {
    let org = app.authenticate(request).await?;
    let new_client = NewClient::from_json(&json_object_body(request)?)?;
    let client = app.clients.create(&org, new_client).await?;
    Ok(Reply::client(201, &client).with_header("location", format!("/api/v1/clients/{}", client.id)))
}

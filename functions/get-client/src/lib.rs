//! `GET /api/v1/clients/{id}`: one client of the caller's organization.

use lambda_http::{Body, Request, Response};
use shared::http::{client_id, respond, Reply};
use shared::{ApiError, App};

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(&request, get_client(app, &request).await)
}

async fn get_client(app: &App, request: &Request) -> Result<Reply, ApiError> {
    let org = app.authenticate(request).await?;
    let id = client_id(request)?;
    let client = app.clients.get(&org, id).await?.ok_or(ApiError::NotFound)?;
    Ok(Reply::client(200, &client))
}

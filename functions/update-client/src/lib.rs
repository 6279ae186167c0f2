//! `PATCH /api/v1/clients/{id}`: changes the given fields; `{}` changes nothing.
//! `If-Match: <etag>` makes the change conditional on the current version (412).

use lambda_http::{Body, Request, Response};
use shared::domain::input::ClientPatch;
use shared::http::{client_id, if_match, json_object_body, respond, Reply};
use shared::store::write::WriteDeadline;
use shared::{ApiError, App};

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(&request, update_client(app, &request).await)
}

async fn update_client(app: &App, request: &Request) -> Result<Reply, ApiError> {
    // Counted from the handler's start: the key look-up is in the budget.
    let deadline = WriteDeadline::from_now();
    let org = app.authenticate(request).await?;
    let id = client_id(request)?;
    let patch = ClientPatch::from_json(&json_object_body(request)?)?;
    let client = app
        .clients
        .update(&org, id, &patch, &if_match(request), deadline)
        .await?;
    Ok(Reply::client(200, &client))
}

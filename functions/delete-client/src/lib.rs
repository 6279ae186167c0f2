//! `DELETE /api/v1/clients/{id}`: deletes a client; answers `{"success": true}`.
//! `If-Match: <etag>` makes the delete conditional on the current version (412).

use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::http::{client_id, if_match, respond, Reply};
use shared::store::write::WriteDeadline;
use shared::{ApiError, App};

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(&request, delete_client(app, &request).await)
}

async fn delete_client(app: &App, request: &Request) -> Result<Reply, ApiError> {
    // Counted from the handler's start: the key look-up is in the budget.
    let deadline = WriteDeadline::from_now();
    let org = app.authenticate(request).await?;
    let id = client_id(request)?;
    app.clients
        .delete(&org, id, &if_match(request), deadline)
        .await?;
    Ok(Reply::new(200, json!({"success": true})))
}

//! `POST /api/v1/clients`: creates a client; answers 201 with `Location`.
//! With `Idempotency-Key`, a repeat of the same request within 24 hours
//! replays the first answer (and `Idempotent-Replayed: true`); another body is 409.

use lambda_http::{Body, Request, Response};
use shared::domain::input::NewClient;
use shared::http::{idempotency_key, json_object_body, respond, Reply};
use shared::store::write::WriteDeadline;
use shared::{ApiError, App};

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(&request, create_client(app, &request).await)
}

async fn create_client(app: &App, request: &Request) -> Result<Reply, ApiError> {
    // Counted from the handler's start: the key look-up is in the budget.
    let deadline = WriteDeadline::from_now();
    let org = app.authenticate(request).await?;
    let idempotency_key = idempotency_key(request)?;
    let new_client = NewClient::from_json(&json_object_body(request)?)?;
    let created = app
        .clients
        .create(&org, new_client, idempotency_key.as_ref(), deadline)
        .await?;
    let reply = Reply::client(201, &created.client)
        .with_header("location", format!("/api/v1/clients/{}", created.client.id));
    Ok(if created.replayed {
        reply.with_header("idempotent-replayed", "true")
    } else {
        reply
    })
}

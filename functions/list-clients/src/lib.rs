//! `GET /api/v1/clients`: a page of the organization's clients, sorted,
//! filtered by status and searched by name or phone; paged by `offset` or
//! by the opaque `cursor` of an earlier page's `nextCursor` (null on the last page).

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use shared::domain::list_query::ListQuery;
use shared::http::{cursor, respond, Reply};
use shared::{ApiError, App};

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(&request, list_clients(app, &request).await)
}

async fn list_clients(app: &App, request: &Request) -> Result<Reply, ApiError> {
    let org = app.authenticate(request).await?;
    let parameters = request.query_string_parameters_ref();
    let query = ListQuery::parse(parameters.into_iter().flat_map(|p| p.iter()))?;
    let after = query
        .cursor
        .as_deref()
        .map(|text| cursor::decode(&org, &query, text))
        .transpose()?;
    let page = app.clients.list(&org, &query, after.as_ref()).await?;
    let data: Vec<_> = page.clients.iter().map(|client| client.to_json()).collect();
    let next_cursor = page
        .next
        .map(|position| cursor::encode(&org, &query, &position));
    Ok(Reply::new(
        200,
        json!({
            "data": data,
            "total": page.total,
            "totalRelation": page.total_relation.as_str(),
            "limit": query.limit,
            "offset": query.offset,
            "nextCursor": next_cursor,
        }),
    ))
}

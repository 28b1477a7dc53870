use crate::QueryState;
use crate::consistency::{BALANCES, Consistent};
use crate::hot_view::{Fields, MalformedView};
use crate::layered::{Entity, read_entity};
use api_common::{ApiPath, Problem};
use axum::Json;
use axum::extract::State;
use events::names::hot_view::{View, field};
use events::{StreamId, UserId};
use serde::Serialize;
use sqlx::AnyPool;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Balance {
    user_id: UserId,
    #[schema(value_type = events::Krw)]
    balance: i64,
}

/// A user's point balance; an unknown user has a balance of 0.
#[utoipa::path(
    get,
    path = "/v1/users/{userId}/points",
    tag = "points",
    operation_id = "getPoints",
    security((), ("userJwt" = [])),
    params(("userId" = UserId, Path, description = "The user")),
    responses((status = 200, description = "The balance", body = Balance))
)]
#[tracing::instrument(skip_all, fields(user_id = %user_id, layer = tracing::field::Empty))]
pub(crate) async fn balance(
    State(state): State<QueryState>,
    ApiPath(user_id): ApiPath<UserId>,
    consistent: Consistent<BALANCES>,
) -> Result<Json<Balance>, Problem> {
    let id = user_id.get();
    let entity = Entity {
        view: View::Balance,
        id,
        stream: StreamId::wallet(user_id),
    };
    let balance = read_entity(
        &state,
        &consistent,
        entity,
        from_hash,
        &state.caches.balances,
        || load(&state.pool, id),
    )
    .await?;
    Ok(Json(Balance { user_id, balance }))
}

fn from_hash(fields: &Fields<'_>) -> Result<i64, MalformedView> {
    fields.int(field::BALANCE)
}

async fn load(pool: &AnyPool, user_id: i64) -> Result<i64, sqlx::Error> {
    let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM balances WHERE user_id = ?")
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    Ok(balance.unwrap_or(0))
}

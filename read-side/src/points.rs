use crate::consistency::{BALANCES, Consistent};
use crate::{QueryState, db_problem};
use api_common::{ApiPath, Problem};
use axum::Json;
use axum::extract::State;
use events::UserId;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Balance {
    user_id: UserId,
    balance: i64,
}

/// An unknown user has a balance of 0.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub(crate) async fn balance(
    State(state): State<QueryState>,
    ApiPath(user_id): ApiPath<UserId>,
    _caught_up: Consistent<BALANCES>,
) -> Result<Json<Balance>, Problem> {
    let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM balances WHERE user_id = ?")
        .bind(user_id.get())
        .fetch_optional(&state.pool)
        .await
        .map_err(db_problem)?;
    Ok(Json(Balance {
        user_id,
        balance: balance.unwrap_or(0),
    }))
}

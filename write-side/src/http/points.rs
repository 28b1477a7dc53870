use super::error::ApiError;
use super::{CommandState, consistency_header, metadata};
use api_common::{ApiJson, ApiPath, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use events::{Krw, UserId};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChargeRequest {
    amount: Krw,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceResponse {
    user_id: UserId,
    balance: Krw,
}

/// Longest accepted Idempotency-Key.
const MAX_IDEMPOTENCY_KEY: usize = 200;

#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub(super) async fn charge(
    State(state): State<CommandState>,
    ApiPath(user_id): ApiPath<UserId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChargeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    Problem::validation(format!(
                        "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                    ))
                })?;
            Some(key.to_owned())
        }
    };
    let executed = state
        .services
        .charge_points(
            user_id,
            request.amount,
            idempotency_key,
            metadata::from_request(&headers),
        )
        .await?;
    Ok((
        consistency_header(&executed.token),
        Json(BalanceResponse {
            user_id,
            balance: executed.reply.balance,
        }),
    ))
}

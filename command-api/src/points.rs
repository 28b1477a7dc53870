use super::error::ApiError;
use super::{CommandState, consistency_header, metadata};
use api_common::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use events::{Krw, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use write_side::idempotency::InvalidKey;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChargeRequest {
    /// 1 to 10,000,000 won per charge; the balance may not exceed 1,000,000,000.
    #[schema(value_type = i64, minimum = 1, maximum = 10_000_000)]
    amount: Krw,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BalanceResponse {
    user_id: UserId,
    balance: Krw,
}

/// Charges points to a user's wallet; a repeated Idempotency-Key charges once and answers
/// the first result.
#[utoipa::path(
    post,
    path = "/v1/users/{userId}/points/charge",
    tag = "points",
    operation_id = "chargePoints",
    security((), ("userJwt" = [])),
    params(
        ("userId" = UserId, Path, description = "The user"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, description = "1 to 200 visible ASCII characters; a retry with the same key and amount charges once"),
    ),
    request_body = ChargeRequest,
    responses(
        (status = 200, description = "Charged; the balance after it", body = BalanceResponse),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub(super) async fn charge(
    State(state): State<CommandState>,
    ApiPath(user_id): ApiPath<UserId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChargeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    state.users.authorize(&headers, user_id.get())?;
    // The wallet keeps its charges' keys itself (a repeat answers the balance right
    // after the first charge), so the key goes to the domain as it is.
    let idempotency_key = match headers.get(super::idempotency::HEADER) {
        None => None,
        Some(value) => {
            let raw = value.to_str().map_err(|_| InvalidKey)?;
            Some(write_side::idempotency::parse(raw)?.to_owned())
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

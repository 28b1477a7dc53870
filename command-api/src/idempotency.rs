//! The `Idempotency-Key` header of every command route (see `write_side::idempotency`).

use super::CommandState;
use super::error::ApiError;
use axum::http::HeaderMap;
use serde::Serialize;
use write_side::idempotency::IdempotencyKey;
use write_side::in_flight::Mark;

pub(super) const HEADER: &str = "idempotency-key";

/// Who a key belongs to: its scope is the caller and the route.
pub(super) enum Caller {
    User(events::UserId),
    Admin,
}

/// A request's key, held in flight in this process until the handler returns.
pub(super) struct Keyed {
    pub key: Option<IdempotencyKey>,
    _in_flight: Option<Mark<(String, String)>>,
}

impl Keyed {
    pub fn key(&self) -> Option<&IdempotencyKey> {
        self.key.as_ref()
    }
}

/// Reads the header (absent: no key), binds it to the caller, the route and the request
/// (`request` includes path parameters), and marks it in flight: a second request with
/// the key while the first runs here is `409 idempotency-key-in-flight`.
pub(super) fn keyed(
    state: &CommandState,
    headers: &HeaderMap,
    caller: Caller,
    operation: &str,
    request: &impl Serialize,
) -> Result<Keyed, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(Keyed {
            key: None,
            _in_flight: None,
        });
    };
    let raw = value
        .to_str()
        .map_err(|_| write_side::idempotency::InvalidKey)?;
    let caller = match caller {
        Caller::User(user_id) => format!("user:{user_id}"),
        Caller::Admin => "admin".to_owned(),
    };
    let key = IdempotencyKey::new(raw, &caller, operation, request)?;
    let guard = state
        .keys_in_flight
        .enter_alone((key.scope.clone(), key.key.clone()))
        .ok_or(ApiError::KeyInFlight)?;
    Ok(Keyed {
        key: Some(key),
        _in_flight: Some(guard),
    })
}

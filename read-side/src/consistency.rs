//! Read-your-writes: a `Consistency-Token` (header, or `consistencyToken` query parameter)
//! names a write; the query waits until its projection has applied it.

use crate::QueryState;
use api_common::Problem;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use events::ConsistencyToken;

/// Extractor that completes once the route's read model has caught up with the token.
pub struct Consistent<const PROJECTION: u8>;

pub const BALANCES: u8 = 0;
pub const CATALOG: u8 = 1;
pub const COUPONS: u8 = 2;

fn projection_name(projection: u8) -> &'static str {
    match projection {
        BALANCES => "balances",
        CATALOG => "catalog",
        _ => "coupons",
    }
}

fn token(parts: &Parts) -> Result<Option<ConsistencyToken>, Problem> {
    let from_header = parts
        .headers
        .get("consistency-token")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let from_query = parts.uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("consistencyToken="))
            .map(str::to_owned)
    });
    match from_header.or(from_query) {
        None => Ok(None),
        Some(raw) => raw
            .parse::<ConsistencyToken>()
            .map(Some)
            .map_err(|e| Problem::bad_request(format!("Consistency-Token: {e}"))),
    }
}

impl<const PROJECTION: u8> FromRequestParts<QueryState> for Consistent<PROJECTION> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &QueryState) -> Result<Self, Problem> {
        let Some(token) = token(parts)? else {
            return Ok(Self);
        };
        let name = projection_name(PROJECTION);
        if state
            .progress
            .wait_for(name, &token, state.consistency_wait)
            .await
        {
            Ok(Self)
        } else {
            Err(Problem::overloaded(
                format!("the {name} read model has not caught up with that write yet"),
                1,
            ))
        }
    }
}

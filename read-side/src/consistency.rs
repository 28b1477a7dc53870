//! Read-your-writes: a `Consistency-Token` (header, or `consistencyToken` query parameter)
//! names a write; the query does not answer until its read model reflects it. A token no
//! write can have produced, or naming a write the event store has not made, is refused at
//! once (`token_rejection`) instead of waiting out the bound.

use crate::QueryState;
use crate::known_writes::Verdict;
use crate::token_rejection::{TokenRejection, check_shape};
use api_common::Problem;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use events::{ConsistencyToken, InvalidToken, ProjectionName, StreamId};
use std::time::Duration;

/// The request's token, if any, for the read model `PROJECTION`. Extracting it only parses;
/// the wait happens in the read itself, because a Redis view that is already new enough
/// answers without waiting for SQL.
pub struct Consistent<const PROJECTION: u8> {
    token: Option<ConsistencyToken>,
}

// The read models a query can wait for, as const generic numbers (const generics cannot
// take an enum yet); `ProjectionName::from_number` turns each back at compile time.
pub const BALANCES: u8 = ProjectionName::Balances as u8;
pub const CATALOG: u8 = ProjectionName::Catalog as u8;
pub const COUPONS: u8 = ProjectionName::Coupons as u8;
pub const ORDERS: u8 = ProjectionName::Orders as u8;
pub const SALES: u8 = ProjectionName::Sales as u8;
pub const SEARCH: u8 = ProjectionName::Search as u8;

/// Which hot views may answer a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HotViewRule {
    /// No token, or the write was to another entity, which this view does not depend on.
    Any,
    /// The write was to this entity: the view must have applied at least this version.
    AtLeast(i64),
    /// The token names no stream, so a view's version says nothing: go to the read model.
    Never,
}

impl HotViewRule {
    pub(crate) fn accepts(self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::AtLeast(needed) => version >= needed,
            Self::Never => false,
        }
    }
}

impl<const PROJECTION: u8> Consistent<PROJECTION> {
    /// The read model this request reads; a number that names none does not compile.
    const READ_MODEL: ProjectionName = ProjectionName::from_number(PROJECTION);

    pub(crate) fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// How a hot view of the entity whose stream is `stream` may serve this request.
    pub(crate) fn hot_view_rule(&self, stream: &StreamId) -> HotViewRule {
        match &self.token {
            None => HotViewRule::Any,
            Some(ConsistencyToken { stream: None, .. }) => HotViewRule::Never,
            Some(ConsistencyToken {
                stream: Some((written, version)),
                ..
            }) if written == stream => HotViewRule::AtLeast(*version),
            Some(_) => HotViewRule::Any,
        }
    }

    /// Waits (bounded) until the read model has applied the token's write; a 503
    /// `overloaded` if it does not in time. Immediate without a token. Before waiting, a
    /// token naming a stream version the store has not reached is refused: its wait could
    /// only time out.
    pub(crate) async fn caught_up(&self, state: &QueryState) -> Result<(), Problem> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let name = Self::READ_MODEL.name();
        // Already applied is the common case: answer it without reading the store.
        if state.progress.wait_for(name, token, Duration::ZERO).await {
            return Ok(());
        }
        if let (Some(known), Some((stream, version))) = (&state.known_writes, &token.stream)
            && known.has_version(stream, *version).await == Verdict::NotWritten
        {
            return Err(TokenRejection::UnknownVersion {
                stream: stream.clone(),
                version: *version,
            }
            .into());
        }
        if state
            .progress
            .wait_for(name, token, state.consistency_wait)
            .await
        {
            Ok(())
        } else {
            Err(Problem::overloaded(
                format!("the {name} read model has not caught up with that write yet"),
                1,
            ))
        }
    }
}

/// The raw token of the request: the header, else the (percent-decoded) query parameter.
/// A header that is not visible ASCII is malformed, not absent.
fn raw_token(parts: &Parts) -> Option<Result<String, InvalidToken>> {
    if let Some(value) = parts.headers.get("consistency-token") {
        return Some(value.to_str().map(str::to_owned).map_err(|_| InvalidToken));
    }
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "consistencyToken")
        .map(|(_, value)| Ok(value.into_owned()))
}

/// Parses the request's token and refuses one naming a position beyond the store's head.
/// Done for every route and layer alike, so a forged token is refused even where a hot
/// view would have answered without looking at it.
async fn token(
    parts: &Parts,
    state: &QueryState,
) -> Result<Option<ConsistencyToken>, TokenRejection> {
    let Some(raw) = raw_token(parts) else {
        return Ok(None);
    };
    let token = raw?.parse::<ConsistencyToken>()?;
    check_shape(&token)?;
    if let Some(known) = &state.known_writes
        && known.has_position(token.position).await == Verdict::NotWritten
    {
        return Err(TokenRejection::BeyondHead(token.position));
    }
    Ok(Some(token))
}

impl<const PROJECTION: u8> FromRequestParts<QueryState> for Consistent<PROJECTION> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &QueryState) -> Result<Self, Problem> {
        Ok(Self {
            token: token(parts, state).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{BALANCES, Consistent, HotViewRule};
    use events::{StreamId, UserId};

    fn rule(token: Option<&str>, user: i64) -> HotViewRule {
        let consistent = Consistent::<BALANCES> {
            token: token.map(|t| t.parse().unwrap()),
        };
        consistent.hot_view_rule(&StreamId::wallet(UserId::new(user).unwrap()))
    }

    #[test]
    fn a_hot_view_must_have_applied_a_write_to_its_own_stream() {
        assert_eq!(rule(None, 1), HotViewRule::Any);
        assert_eq!(rule(Some("9:wallet-1:4"), 1), HotViewRule::AtLeast(4));
        assert_eq!(rule(Some("9:wallet-2:4"), 1), HotViewRule::Any);
        assert_eq!(rule(Some("9"), 1), HotViewRule::Never);
        assert!(HotViewRule::AtLeast(4).accepts(4));
        assert!(!HotViewRule::AtLeast(4).accepts(3));
    }
}

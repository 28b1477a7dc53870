//! Who may act for a user, and how often. With `SHOP_JWT_SECRET` set, user routes need an
//! HS256 bearer JWT whose `sub` is the user named in the path or body (401 without a valid
//! token, 403 for another user); without it they are open, as DESIGN.md allows. Rush-prone
//! commands (coupon issue, orders) are also rate limited per user (429 with Retry-After).

use crate::problem::{ErrorCode, Problem};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct UserGuard {
    jwt: Option<Arc<DecodingKey>>,
    limiter: Option<Arc<DefaultKeyedRateLimiter<i64>>>,
}

/// `sub` may be a JSON number or a string of digits.
#[derive(Deserialize)]
struct Claims {
    sub: serde_json::Value,
}

impl UserGuard {
    /// `rate`: requests per second and burst per user; `None` turns the limit off.
    pub fn new(jwt_secret: Option<&str>, rate: Option<(NonZeroU32, NonZeroU32)>) -> Self {
        Self {
            jwt: jwt_secret.map(|secret| Arc::new(DecodingKey::from_secret(secret.as_bytes()))),
            limiter: rate.map(|(per_second, burst)| {
                Arc::new(RateLimiter::keyed(
                    Quota::per_second(per_second).allow_burst(burst),
                ))
            }),
        }
    }

    /// Succeeds when the caller may act for `user`.
    pub fn authorize(&self, headers: &HeaderMap, user: i64) -> Result<(), Problem> {
        let Some(key) = &self.jwt else {
            return Ok(());
        };
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("this route needs Authorization: Bearer <JWT>"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        // `sub` is checked below: the library only accepts string subjects.
        validation.set_required_spec_claims(&["exp"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|_| unauthorized("the bearer token is not a valid, unexpired HS256 JWT"))?
            .claims;
        let subject = match &claims.sub {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        };
        if subject == Some(user) {
            Ok(())
        } else {
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "the token's subject may not act for this user",
            ))
        }
    }

    /// Counts one request of `user` against its rate limit.
    pub fn throttle(&self, user: i64) -> Result<(), Problem> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&user).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Problem {
                retry_after_secs: Some(wait.as_secs().max(1)),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many requests for this user; retry later",
                )
            }
        })
    }

    /// Forgets users whose limit has fully recovered, so the table does not grow forever.
    pub fn retain_recent(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
        }
    }
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, detail)
}

/// Middleware for routes with `{user_id}` in the path. A path that does not parse passes
/// through, so the handler answers its usual 400.
pub async fn require_path_user(
    State(guard): State<UserGuard>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Result<Response, Problem> {
    if let Some(user) = params.get("user_id").and_then(|id| id.parse::<i64>().ok()) {
        guard.authorize(request.headers(), user)?;
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    fn token(secret: &str, sub: serde_json::Value, exp_offset: i64) -> HeaderMap {
        let exp = chrono_now() + exp_offset;
        let jwt = encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": sub, "exp": exp}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("encodes");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {jwt}").parse().expect("header"),
        );
        headers
    }

    fn chrono_now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    #[test]
    fn without_a_secret_everyone_may_act() {
        assert!(UserGuard::default().authorize(&HeaderMap::new(), 7).is_ok());
    }

    #[test]
    fn the_subject_must_be_the_user() {
        let guard = UserGuard::new(Some("s3cret"), None);
        assert!(guard.authorize(&token("s3cret", 7.into(), 60), 7).is_ok());
        assert!(guard.authorize(&token("s3cret", "7".into(), 60), 7).is_ok());
        let other = guard
            .authorize(&token("s3cret", 8.into(), 60), 7)
            .unwrap_err();
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        for headers in [
            HeaderMap::new(),
            token("wrong", 7.into(), 60),
            token("s3cret", 7.into(), -120),
        ] {
            let refused = guard.authorize(&headers, 7).unwrap_err();
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn a_user_over_the_rate_waits_and_others_do_not() {
        let one = NonZeroU32::new(1).expect("non-zero");
        let guard = UserGuard::new(None, Some((one, NonZeroU32::new(2).expect("non-zero"))));
        assert!(guard.throttle(1).is_ok());
        assert!(guard.throttle(1).is_ok());
        let limited = guard.throttle(1).unwrap_err();
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.retry_after_secs, Some(1));
        assert!(guard.throttle(2).is_ok());
    }
}

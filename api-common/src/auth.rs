//! The admin bearer token, compared in constant time.

use crate::problem::{ErrorCode, Problem};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct AdminToken(std::sync::Arc<str>);

impl AdminToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().into())
    }

    /// A fresh random token, for processes started without `SHOP_ADMIN_TOKEN`.
    pub fn random() -> Self {
        Self::new(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// Middleware for admin routes: `Authorization: Bearer <token>` or 401.
pub async fn require_admin(
    State(token): State<AdminToken>,
    request: Request,
    next: Next,
) -> Result<Response, Problem> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(presented) if token.matches(presented) => Ok(next.run(request).await),
        _ => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "admin routes need Authorization: Bearer <SHOP_ADMIN_TOKEN>",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new("s3cret");
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret!"));
        assert!(!token.matches(""));
    }
}

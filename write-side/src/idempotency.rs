//! Idempotency keys (the IETF httpapi `Idempotency-Key` header) on every command.
//!
//! A command sent with a key is recorded with its outcome in the same transaction as the
//! events it caused (`store::Claim`), scoped to the caller and the route. A repeat with
//! the same key and the same request answers the recorded outcome without deciding again;
//! with another request it is refused (`KeyReused`). Only accepted commands are recorded:
//! a refused one (sold out, not enough points) changed nothing, so its repeat is simply
//! decided again. While the first request with a key is still running in this process, a
//! repeat is answered `409 idempotency-key-in-flight` at once rather than queued behind it
//! (two processes racing on one key are settled by the record's primary key instead).

use event_store::EventStore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 200;

/// Records are kept at least this long; the sweep deletes older ones.
pub const MIN_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A validated key, bound to who sent it, on which route, with which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The caller and the route (`user:7 placeOrder`, `admin registerProduct`).
    pub scope: String,
    pub key: String,
    /// SHA-256 of the route and the request.
    pub fingerprint: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters")]
pub struct InvalidKey;

impl IdempotencyKey {
    /// `caller` names who sends the request (`user:7`, `admin`), `operation` the route;
    /// `request` is what the route was asked, path parameters included.
    pub fn new(
        raw: &str,
        caller: &str,
        operation: &str,
        request: &impl Serialize,
    ) -> Result<Self, InvalidKey> {
        let key = parse(raw)?;
        let mut hash = Sha256::new();
        hash.update(operation.as_bytes());
        hash.update([0]);
        // A typed request serializes its fields in declaration order: equal requests
        // give equal bytes.
        hash.update(serde_json::to_vec(request).map_err(|_| InvalidKey)?);
        Ok(Self {
            scope: format!("{caller} {operation}"),
            key: key.to_owned(),
            fingerprint: hash.finalize().into(),
        })
    }
}

/// 1 to `MAX_KEY_LEN` visible ASCII characters (what a header value can carry unescaped).
pub fn parse(raw: &str) -> Result<&str, InvalidKey> {
    let visible = raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if raw.is_empty() || raw.len() > MAX_KEY_LEN || !visible || raw.trim() != raw {
        return Err(InvalidKey);
    }
    Ok(raw)
}

/// The keys whose first request is running in this process, by scope and key.
pub type KeysInFlight = crate::in_flight::InFlight<(String, String)>;

/// Deletes records older than `retention` (never less than `MIN_RETENTION`) every
/// `every`, until `shutdown`.
pub async fn sweep_until_stopped(
    store: Arc<dyn EventStore>,
    retention: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    let retention = retention.max(MIN_RETENTION);
    loop {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        match store.sweep_claims(cutoff.timestamp_micros()).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "idempotency keys past their retention deleted"),
            Err(error) => tracing::warn!(%error, "cannot sweep idempotency keys"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(parse("order-7f3a").is_ok());
        assert!(parse("").is_err());
        assert!(parse(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(parse("caf\u{e9}").is_err());
        assert!(parse("a\tb").is_err());
        assert!(parse(" padded").is_err());
    }

    #[test]
    fn the_fingerprint_tells_requests_and_routes_apart() {
        let a = IdempotencyKey::new("k", "user:1", "placeOrder", &(1, 2)).unwrap();
        let same = IdempotencyKey::new("k", "user:1", "placeOrder", &(1, 2)).unwrap();
        let other_body = IdempotencyKey::new("k", "user:1", "placeOrder", &(1, 3)).unwrap();
        let other_route = IdempotencyKey::new("k", "user:1", "issueCoupon", &(1, 2)).unwrap();
        assert_eq!(a, same);
        assert_ne!(a.fingerprint, other_body.fingerprint);
        assert_eq!(a.scope, other_body.scope);
        assert_ne!(a.fingerprint, other_route.fingerprint);
        assert_ne!(a.scope, other_route.scope);
    }
}

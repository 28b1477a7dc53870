//! The Redis side of a blue/green views rebuild (`views_rebuild.rs`): the pause flag that
//! holds the live projector back, and the swap that renames the rebuilt copy onto the
//! live names.

use super::keys;
use crate::error::ProjectionError;
use ::redis::aio::MultiplexedConnection;
use events::names::hot_view::{View, sales};
use std::collections::HashSet;

/// How long the pause flag holds the projector back if this process dies; refreshed
/// while the rebuild catches up and swaps, so only a dead rebuild lets it lapse.
const PAUSE_MS: u64 = 60_000;
/// Commands per MULTI/EXEC: each step keeps Redis from other clients only for as long as
/// these take, so readers and the rest of the server barely notice a large swap.
const SWAP_CHUNK: usize = 5_000;
/// Keys per SCAN step (a hint to Redis).
const SCAN_COUNT: usize = 1_000;
/// The live view keys after the prefix (never the shadow's, the markers or the flags):
/// every hot view's hashes and the ranking's day keys.
fn view_patterns() -> impl Iterator<Item = String> {
    let hashes = View::ALL.into_iter().map(|view| view.key("", "*"));
    hashes.chain([format!("{}[0-9]*", sales::DAY_KEY_START)])
}

const PROJECTION: &str = events::ProjectionName::RedisViews.name();

/// The raised pause flag (`{p}views:rebuilding`): while it is up the script answers
/// PAUSED to every live view update and the projector retries its batch later.
pub(super) struct Pause {
    key: String,
}

impl Pause {
    /// Raises the flag, unless another rebuild holds it (its copy would race ours).
    pub(super) async fn raise(
        connection: &mut MultiplexedConnection,
        prefix: &str,
    ) -> Result<Self, ProjectionError> {
        let key = keys::rebuilding(prefix);
        let raised: Option<String> = ::redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(PAUSE_MS)
            .query_async(connection)
            .await
            .map_err(ProjectionError::redis("raise the pause flag"))?;
        if raised.is_none() {
            return Err(ProjectionError::Rebuild {
                projection: PROJECTION,
                reason: format!(
                    "{key} is already set: another rebuild is swapping keys in (a dead one's \
                     flag expires within {} s)",
                    PAUSE_MS / 1_000
                ),
            });
        }
        Ok(Self { key })
    }

    /// Pushes the flag's expiry out again. Fails if it lapsed: the projector may then have
    /// applied updates the copy lacks, and swapping the copy in would undo them.
    pub(super) async fn hold(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<(), ProjectionError> {
        let held: bool = ::redis::cmd("PEXPIRE")
            .arg(&self.key)
            .arg(PAUSE_MS)
            .query_async(connection)
            .await
            .map_err(ProjectionError::redis("hold the pause flag"))?;
        if held {
            return Ok(());
        }
        Err(ProjectionError::Rebuild {
            projection: PROJECTION,
            reason: format!(
                "{} expired while the rebuild held it; the live projector went on",
                self.key
            ),
        })
    }

    /// Lets the projector go on at once (after a failure; the swap's last step drops the
    /// flag itself). Best effort: it expires by itself anyway.
    pub(super) async fn lower(&self, connection: &mut MultiplexedConnection) {
        let lowered: Result<(), _> = ::redis::cmd("DEL")
            .arg(&self.key)
            .query_async(connection)
            .await;
        if let Err(error) = lowered {
            tracing::warn!(%error, key = self.key, "could not drop the pause flag; it expires by itself");
        }
    }
}

/// What the swap did.
pub(super) struct Swapped {
    pub renamed: usize,
    pub stale: usize,
}

enum Step {
    Rename { from: String, to: String },
    Del(String),
    Set(String),
}

/// Renames every key under the shadow prefix onto its live name and deletes the live view
/// keys the copy has no counterpart for, in MULTI/EXEC steps of `SWAP_CHUNK` commands.
/// Each key changes in one atomic RENAME (a reader finds the old or the new hash, never
/// none; a day key keeps its expiry). The ranking's ready marker is down from the first
/// step to the last, so readers rank from SQL while day keys are half swapped; the last
/// step sets it and drops the pause flag.
pub(super) async fn swap_in(
    connection: &mut MultiplexedConnection,
    prefix: &str,
    pause: &Pause,
) -> Result<Swapped, ProjectionError> {
    let shadow = keys::shadow_prefix(prefix);
    // The copy's own marker only says the copy kept its day keys; the live one is set in
    // the last step.
    let shadow_ready = keys::ready(&shadow);
    let ready = keys::ready(prefix);
    let mut steps = vec![Step::Del(ready.clone())];
    let mut fresh = HashSet::new();
    for from in scan(connection, &format!("{}*", glob_escape(&shadow))).await? {
        let Some(name) = from.strip_prefix(&shadow) else {
            continue;
        };
        if from == shadow_ready {
            steps.push(Step::Del(from));
            continue;
        }
        let to = format!("{prefix}{name}");
        fresh.insert(to.clone());
        steps.push(Step::Rename { from, to });
    }
    let renamed = fresh.len();
    let mut stale = 0;
    for pattern in view_patterns() {
        let pattern = format!("{}{pattern}", glob_escape(prefix));
        for key in scan(connection, &pattern).await? {
            if !fresh.contains(&key) {
                steps.push(Step::Del(key));
                stale += 1;
            }
        }
    }
    steps.push(Step::Set(ready));
    steps.push(Step::Del(pause.key.clone()));

    for chunk in steps.chunks(SWAP_CHUNK) {
        pause.hold(connection).await?;
        let mut transaction = ::redis::pipe();
        transaction.atomic();
        for step in chunk {
            match step {
                Step::Rename { from, to } => transaction.rename(from, to).ignore(),
                Step::Del(key) => transaction.del(key).ignore(),
                Step::Set(key) => transaction.set(key, 1).ignore(),
            };
        }
        transaction
            .query_async::<()>(connection)
            .await
            .map_err(ProjectionError::redis("swap the rebuilt views in"))?;
    }
    Ok(Swapped { renamed, stale })
}

/// Deletes every key matching `pattern`, a SCAN page at a time.
pub(super) async fn delete_matching(
    connection: &mut MultiplexedConnection,
    pattern: &str,
) -> Result<usize, ProjectionError> {
    let keys = scan(connection, pattern).await?;
    for chunk in keys.chunks(SCAN_COUNT) {
        ::redis::cmd("DEL")
            .arg(chunk)
            .query_async::<()>(connection)
            .await
            .map_err(ProjectionError::redis("delete the rebuild's copy"))?;
    }
    Ok(keys.len())
}

/// Every key matching `pattern` now (SCAN may repeat a key; they are deduplicated).
pub(super) async fn scan(
    connection: &mut MultiplexedConnection,
    pattern: &str,
) -> Result<Vec<String>, ProjectionError> {
    let mut found = HashSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(connection)
            .await
            .map_err(ProjectionError::redis("list keys"))?;
        found.extend(keys);
        if next == 0 {
            return Ok(found.into_iter().collect());
        }
        cursor = next;
    }
}

/// `prefix` as a SCAN pattern that matches only itself (a prefix may hold `*`, `?`, `[`).
pub(super) fn glob_escape(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::glob_escape;

    #[test]
    fn a_prefix_with_glob_characters_matches_only_itself() {
        assert_eq!(glob_escape("shop:"), "shop:");
        assert_eq!(glob_escape("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:");
    }
}

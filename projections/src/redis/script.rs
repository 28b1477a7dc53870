//! The one Lua script every view update goes through, so the version check and the write
//! (including a completed order's sales) are a single atomic step in Redis.

use std::sync::LazyLock;

/// KEYS[1]: the view's hash. KEYS[2]: the rebuilds' pause flag (every event passes it, so
/// a rebuild can hold back all view updates while it swaps keys in). Order events add
/// KEYS[3], the ranking's ready marker; a completion adds KEYS[4], its day's sorted set.
/// ARGV[1]: the event's stream version. ARGV[2]: "1" if this event may create a missing
/// view. ARGV[3..]: triples of (`set` | `incr`, field, value) on the hash, or (`zincr`,
/// member, delta) and (`expireat`, "", unix seconds) on the sorted set. The sales count
/// moves in the same step as the order view's `v`, so a redelivered completion finds
/// `v` already there and counts nothing.
///
/// Returns 1 if applied, 0 if the view already has this version (a redelivery), -1 if
/// the view does not exist and this event cannot create it, -2 if versions before this
/// one are missing: the relay republishes a stream in order after a failed delivery, so
/// the earlier ones come again and this one after them; applying it now would make the
/// earlier ones look like redeliveries. -3 if a rebuild is swapping keys in: the batch
/// is retried once it is done.
///
/// A completion whose order view is missing means Redis lost data (a restart without
/// persistence): its sale cannot be counted safely, so the ready marker goes and the query
/// API ranks from SQL until `shop rebuild ranking` refills Redis.
const SOURCE: &str = r#"
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  return -3
end
local version = tonumber(ARGV[1])
local current = redis.call('HGET', KEYS[1], 'v')
if current then
  if tonumber(current) >= version then
    return 0
  end
  if tonumber(current) + 1 < version then
    return -2
  end
elseif ARGV[2] ~= '1' then
  if KEYS[4] then
    redis.call('DEL', KEYS[3])
  end
  return -1
end
for i = 3, #ARGV, 3 do
  local op = ARGV[i]
  if op == 'incr' then
    redis.call('HINCRBY', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  elseif op == 'zincr' then
    redis.call('ZINCRBY', KEYS[4], ARGV[i + 2], ARGV[i + 1])
  elseif op == 'expireat' then
    redis.call('EXPIREAT', KEYS[4], ARGV[i + 2])
  else
    redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
return 1
"#;

pub(super) static APPLY: LazyLock<::redis::Script> = LazyLock::new(|| ::redis::Script::new(SOURCE));

#[cfg(test)]
mod tests {
    /// Lua cannot import the contract's names, so the script's version field is checked
    /// against them here.
    #[test]
    fn the_script_keeps_the_version_in_the_contracts_field() {
        let field = format!("'{}'", events::names::hot_view::field::VERSION);
        assert_eq!(super::SOURCE.matches(&field).count(), 2, "{field}");
    }
}

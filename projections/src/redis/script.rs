//! The one Lua script every view update goes through, so the version check and the write
//! (including a completed order's sales) are a single atomic step in Redis. One call
//! carries many updates (a batch's worth, in order): a script call costs Redis about as
//! much again as the few commands one update runs, so one call per event was most of
//! Redis' work for an order.

use std::sync::LazyLock;

/// Per update: its keys, K[1] the view's hash, K[2] the rebuilds' pause flag (every event
/// passes it, so a rebuild can hold back all view updates while it swaps keys in); order
/// events add K[3], the ranking's ready marker; a completion adds K[4], its day's sorted
/// set. Its arguments: A[1] the event's stream version, A[2] "1" if this event may create
/// a missing view, A[3..] triples of (`set` | `incr`, field, value) on the hash, or
/// (`zincr`, member, delta) and (`expireat`, "", unix seconds) on the sorted set. The
/// sales count moves in the same step as the order view's `v`, so a redelivered
/// completion finds `v` already there and counts nothing.
///
/// A call: KEYS = every update's keys one after the other; ARGV[1] = the number of
/// updates, then per update its number of keys, its number of arguments and its
/// arguments. It answers one outcome per update, in order.
///
/// An outcome is 1 if applied, 0 if the view already has this version (a redelivery), -1
/// if the view does not exist and this event cannot create it, -2 if versions before this
/// one are missing: the relay republishes a stream in order after a failed delivery, so
/// the earlier ones come again and this one after them; applying it now would make the
/// earlier ones look like redeliveries. -3 if a rebuild is swapping keys in: the batch
/// is retried once it is done.
///
/// A completion whose order view is missing means Redis lost data (a restart without
/// persistence): its sale cannot be counted safely, so the ready marker goes and the query
/// API ranks from SQL until `shop rebuild ranking` refills Redis.
///
/// Within one call a hash's fields are set in one HSET (with `v`), flushed before an
/// `incr` so the operations keep their order; and the pause flag and each view's version,
/// which nothing else can change while a script runs, are looked up once per key and call
/// (a batch carries many events of one product or order). Each `redis.call` costs
/// about as much as the work it does, and an order's events ran about twenty of them.
const SOURCE: &str = r#"
local paused = {}
local function is_paused(key)
  local answer = paused[key]
  if answer == nil then
    answer = redis.call('EXISTS', key) == 1
    paused[key] = answer
  end
  return answer
end

-- A view's version is read from Redis once per call and then followed here: only this
-- script moves it, and nothing else runs while it does.
local versions = {}
local function version_of(key)
  local known = versions[key]
  if known == nil then
    known = tonumber(redis.call('HGET', key, 'v')) or false
    versions[key] = known
  end
  return known
end

local function apply(K, A)
  if K[2] and is_paused(K[2]) then
    return -3
  end
  local version = tonumber(A[1])
  local current = version_of(K[1])
  if current then
    if current >= version then
      return 0
    end
    if current + 1 < version then
      return -2
    end
  elseif A[2] ~= '1' then
    if K[4] then
      redis.call('DEL', K[3])
    end
    return -1
  end
  local fields = {}
  for i = 3, #A, 3 do
    local op = A[i]
    if op == 'incr' then
      if #fields > 0 then
        redis.call('HSET', K[1], unpack(fields))
        fields = {}
      end
      redis.call('HINCRBY', K[1], A[i + 1], A[i + 2])
    elseif op == 'zincr' then
      redis.call('ZINCRBY', K[4], A[i + 2], A[i + 1])
    elseif op == 'expireat' then
      redis.call('EXPIREAT', K[4], A[i + 2])
    else
      fields[#fields + 1] = A[i + 1]
      fields[#fields + 1] = A[i + 2]
    end
  end
  fields[#fields + 1] = 'v'
  fields[#fields + 1] = A[1]
  redis.call('HSET', K[1], unpack(fields))
  versions[K[1]] = version
  return 1
end

local outcomes = {}
local k, a = 1, 2
for n = 1, tonumber(ARGV[1]) do
  local keys, args = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  outcomes[n] = apply({unpack(KEYS, k, k + keys - 1)}, {unpack(ARGV, a + 2, a + 1 + args)})
  k = k + keys
  a = a + 2 + args
end
return outcomes
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

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
/// Within one call, nothing but this script touches its keys, and it reads back only the
/// pause flags and the views' versions, which it looks up once per key and then follows
/// itself (a batch carries many events of one product or order). So its writes wait until
/// the call ends: one `HSET` per hash (every field set, and `v`), one `HINCRBY` per hash
/// and field, one `ZINCRBY` per day and product, one `EXPIREAT` per day. A `set` of a field
/// with an increment pending writes the hash's pending changes first, so the operations
/// keep their order. Each `redis.call` costs about as much as the work it does: an order's
/// events ran about sixteen of them, and most were a product's stock moving by one line.
/// The updates are read in place from KEYS and ARGV, without a table per update.
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

-- Deltas not written yet, by name in the order first seen: a hash's per field, a day's
-- per product. They add up in Lua's doubles, exact below 2^53 (see `incr`).
local function new_sums()
  return {names = {}, total = {}}
end

local function add(sums, name, delta)
  if sums.total[name] == nil then
    sums.names[#sums.names + 1] = name
    sums.total[name] = 0
  end
  sums.total[name] = sums.total[name] + delta
end

-- Writes not made yet, per hash: `sets` a flat field/value list for HSET (a later pair
-- of the same field wins there, as it would have here), `incrs` the sums of its deltas.
local LIMIT = 2 ^ 52
local hashes, sets, incrs = {}, {}, {}
local days, zincrs, expiries = {}, {}, {}

local function hash_state(key)
  if sets[key] == nil then
    hashes[#hashes + 1] = key
    sets[key], incrs[key] = {}, new_sums()
  end
end

local function flush(key)
  local fields = sets[key]
  if versions[key] then
    fields[#fields + 1] = 'v'
    fields[#fields + 1] = string.format('%d', versions[key])
  end
  if #fields > 0 then
    redis.call('HSET', key, unpack(fields))
  end
  local sums = incrs[key]
  for _, field in ipairs(sums.names) do
    redis.call('HINCRBY', key, field, string.format('%d', sums.total[field]))
  end
  sets[key], incrs[key] = {}, new_sums()
end

local function set(key, field, value)
  if incrs[key].total[field] ~= nil then
    flush(key)
  end
  local fields = sets[key]
  fields[#fields + 1] = field
  fields[#fields + 1] = value
end

-- A delta that could take a sum out of the exact range is written at once instead.
local function incr(key, field, delta)
  local sums = incrs[key]
  if math.abs((sums.total[field] or 0) + tonumber(delta)) >= LIMIT then
    flush(key)
    redis.call('HINCRBY', key, field, delta)
    return
  end
  add(sums, field, tonumber(delta))
end

local function zincr(day, member, delta)
  if zincrs[day] == nil then
    days[#days + 1] = day
    zincrs[day] = new_sums()
  end
  add(zincrs[day], member, tonumber(delta))
end

-- One update: its keys are KEYS[k .. k + nk - 1], its arguments ARGV[a .. a + na - 1].
local function apply(k, nk, a, na)
  local view, pause = KEYS[k], nk >= 2 and KEYS[k + 1]
  if pause and is_paused(pause) then
    return -3
  end
  local version = tonumber(ARGV[a])
  local current = version_of(view)
  if current then
    if current >= version then
      return 0
    end
    if current + 1 < version then
      return -2
    end
  elseif ARGV[a + 1] ~= '1' then
    if nk >= 4 then
      redis.call('DEL', KEYS[k + 2])
    end
    return -1
  end
  hash_state(view)
  for i = a + 2, a + na - 1, 3 do
    local op, name, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if op == 'incr' then
      incr(view, name, value)
    elseif op == 'zincr' then
      zincr(KEYS[k + 3], name, value)
    elseif op == 'expireat' then
      expiries[KEYS[k + 3]] = value
    else
      set(view, name, value)
    end
  end
  versions[view] = version
  return 1
end

local outcomes = {}
local k, a = 1, 2
for n = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  outcomes[n] = apply(k, nk, a + 2, na)
  k = k + nk
  a = a + 2 + na
end
for _, key in ipairs(hashes) do
  flush(key)
end
for _, day in ipairs(days) do
  local sums = zincrs[day]
  for _, member in ipairs(sums.names) do
    redis.call('ZINCRBY', day, string.format('%d', sums.total[member]), member)
  end
end
for _, day in ipairs(days) do
  if expiries[day] then
    redis.call('EXPIREAT', day, expiries[day])
  end
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

//! The one Lua script every view update goes through, so the version check and the write
//! are a single atomic step in Redis.

use std::sync::LazyLock;

/// KEYS[1]: the view's hash. ARGV[1]: the event's stream version. ARGV[2]: "1" if this
/// event may create a missing view. ARGV[3..]: triples of (`set` | `incr`, field, value).
///
/// Returns 1 if applied, 0 if the view already has this version (a redelivery), -1 if
/// the view does not exist and this event cannot create it, -2 if versions before this
/// one are missing: the relay republishes a stream in order after a failed delivery, so
/// the earlier ones come again and this one after them; applying it now would make the
/// earlier ones look like redeliveries.
const SOURCE: &str = r#"
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
  return -1
end
for i = 3, #ARGV, 3 do
  if ARGV[i] == 'incr' then
    redis.call('HINCRBY', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
return 1
"#;

pub(super) static APPLY: LazyLock<::redis::Script> = LazyLock::new(|| ::redis::Script::new(SOURCE));

//! The Lua scripts that read and write a project's hash, each one atomic
//! step on the Redis server (see the module above for the fields and the
//! argument). Times come from Redis's own clock, so every instance agrees.
//!
//! Bookkeeping fields: `_seq` counts the hash's events (writes, loads,
//! merges, resets) and tags entries; `_loaded` is when the last merged load
//! began; `_reset` is the `_seq` of the last reset; `_tree` is the served
//! tree as JSON, built from the entries by the first reader after a change
//! (`remember`) and deleted by the next change.

use redis::Script;

/// `now` in milliseconds, from the server's clock.
const NOW: &str = "
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
";

/// Whether the value `current` (or nil) may be replaced by one at `version`
/// ('d' for a deletion): never once deleted, else by a newer version, or by
/// the same one when `again` (a write-through renews the entry's tag).
const REPLACES: &str = "
local function replaces(current, version, again)
  if not current then return true end
  local held = string.match(current, '^([^:]*)')
  if held == 'd' then return false end
  if version == 'd' then return true end
  return tonumber(held) < tonumber(version) or (again and tonumber(held) == tonumber(version))
end
";

pub struct Scripts {
    pub read: Script,
    pub role: Script,
    pub write: Script,
    pub merge: Script,
    pub reset: Script,
    pub remember: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            read: Script::new(&format!("{NOW}{READ}")),
            role: Script::new(&format!("{NOW}{ROLE}")),
            write: Script::new(&format!("{REPLACES}{WRITE}")),
            merge: Script::new(&format!("{REPLACES}{MERGE}")),
            reset: Script::new(RESET),
            remember: Script::new(REMEMBER),
        }
    }
}

/// KEYS: hash, lock. ARGV: fresh ms, bound ms, lock ms, ttl ms, the
/// caller's member field. Returns {status, ticket, now, payload}:
/// - `tree`: payload {the caller's membership or '', the tree's JSON};
/// - `hit`: payload the whole hash (no `_tree` in it): the caller builds
///   the tree and `remember`s it;
/// - `load` or `refresh`: the caller holds the lock and loads under `ticket`;
/// - `wait`: another caller is loading.
const READ: &str = "
local function served()
  local tree = redis.call('HGET', KEYS[1], '_tree')
  if tree then return {'tree', 0, now, {redis.call('HGET', KEYS[1], ARGV[5]) or '', tree}} end
  return {'hit', 0, now, redis.call('HGETALL', KEYS[1])}
end
local loaded = tonumber(redis.call('HGET', KEYS[1], '_loaded'))
local age = loaded and now - loaded
if age and age < tonumber(ARGV[1]) then return served() end
if age and age < tonumber(ARGV[2]) then
  if redis.call('EXISTS', KEYS[2]) == 1 then return served() end
  local ticket = redis.call('HINCRBY', KEYS[1], '_seq', 1)
  redis.call('SET', KEYS[2], ticket, 'PX', ARGV[3])
  return {'refresh', ticket, now, {}}
end
local ticket = redis.call('HINCRBY', KEYS[1], '_seq', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if redis.call('SET', KEYS[2], ticket, 'NX', 'PX', ARGV[3]) then
  return {'load', ticket, now, {}}
end
return {'wait', ticket, now, {}}
";

/// KEYS: hash. ARGV: bound ms, member field. Returns {'known', value or ''}
/// while the hash is within the bound, else {'unknown', ''}.
const ROLE: &str = "
local loaded = tonumber(redis.call('HGET', KEYS[1], '_loaded'))
if not loaded or now - loaded >= tonumber(ARGV[1]) then return {'unknown', ''} end
return {'known', redis.call('HGET', KEYS[1], ARGV[2]) or ''}
";

/// KEYS: hash. ARGV: ttl ms, then (field, version or 'd', json) triples.
/// Applies a committed write to a hash that exists (a project nobody holds
/// needs nothing); returns 1 when it did.
const WRITE: &str = "
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local tag = redis.call('HINCRBY', KEYS[1], '_seq', 1)
for i = 2, #ARGV, 3 do
  if replaces(redis.call('HGET', KEYS[1], ARGV[i]), ARGV[i + 1], true) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ':' .. tag .. ':' .. ARGV[i + 2])
  end
end
redis.call('HDEL', KEYS[1], '_tree')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
";

/// KEYS: hash, lock. ARGV: ticket, load start (ms), ttl ms, then (field,
/// version, json) triples of everything the load read. Returns {1, the
/// merged hash}, or {0, {}} when the load came too late to merge.
const MERGE: &str = "
local ticket = tonumber(ARGV[1])
local reset = tonumber(redis.call('HGET', KEYS[1], '_reset') or '0')
local valid = redis.call('EXISTS', KEYS[1]) == 1 and ticket >= reset
if valid then
  local read = {}
  for i = 4, #ARGV, 3 do
    read[ARGV[i]] = true
    if replaces(redis.call('HGET', KEYS[1], ARGV[i]), ARGV[i + 1], false) then
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ':' .. ticket .. ':' .. ARGV[i + 2])
    end
  end
  redis.call('HDEL', KEYS[1], '_tree')
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local field = all[i]
    if string.sub(field, 1, 1) ~= '_' and not read[field] then
      local version, tag = string.match(all[i + 1], '^([^:]*):([^:]*):')
      if version ~= 'd' and tonumber(tag) < ticket then redis.call('HDEL', KEYS[1], field) end
    end
  end
  local loaded = tonumber(redis.call('HGET', KEYS[1], '_loaded') or '0')
  if tonumber(ARGV[2]) > loaded then redis.call('HSET', KEYS[1], '_loaded', ARGV[2]) end
  redis.call('HINCRBY', KEYS[1], '_seq', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if valid then return {1, redis.call('HGETALL', KEYS[1])} end
return {0, {}}
";

/// KEYS: hash. ARGV: ttl ms. Empties the hash of items and marks it
/// unloaded; loads that began before cannot merge.
const RESET: &str = "
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], '_seq', 1)
local all = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(all) do
  if string.sub(field, 1, 1) ~= '_' then redis.call('HDEL', KEYS[1], field) end
end
redis.call('HDEL', KEYS[1], '_loaded', '_tree')
redis.call('HSET', KEYS[1], '_reset', seq)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
";

/// KEYS: hash. ARGV: the `_seq` the tree was built at, the tree's JSON.
/// Keeps the tree for the next readers unless the entries changed since.
const REMEMBER: &str = "
if redis.call('HGET', KEYS[1], '_seq') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], '_tree', ARGV[2])
return 1
";

-- Decides every rule of one request atomically: the request is charged to
-- all of its rules or to none. The twin of tessera_core::ratelimit::decide,
-- which a test holds it to: integers only, exact in Lua's doubles.
--
-- Cost matters here (every request runs it): one MGET reads every block
-- and state, one SET per rule writes its state back with its expiry, and a
-- state is five little-endian doubles (struct.pack '<ddddd': w a c p t,
-- see RuleState), read and written in one C call each.
--
-- KEYS: the subjects' block keys (ARGV[2] of them), then one state per rule.
-- ARGV: now (ms), the number of block keys, how long an abuser is blocked
--   (ms), then seven values per rule: algorithm (s: sliding, g: gcra,
--   f: fixed), limit, window (ms), cost, abuse threshold (0: never), its
--   subject's block key (0: none), GCRA's emission interval (µs, else 0).
-- Returns {0, block key index, ms left} when a subject is blocked, else
--   {1, allowed, then per rule: admitted, w, a, c, p, t, blocked now}.

local now, nblocks, block_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local stored = redis.call('MGET', unpack(KEYS))
for i = 1, nblocks do
  if stored[i] then return {0, i, redis.call('PTTL', KEYS[i])} end
end

local fmod, max, pack, unpack_state = math.fmod, math.max, struct.pack, struct.unpack
local nrules = #KEYS - nblocks
local rules, allowed = {}, true
for r = 1, nrules do
  local at = 4 + (r - 1) * 7
  local algorithm, limit, window, cost =
    ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  local w, a, c, p, t = 0, 0, 0, 0, 0
  local state = stored[nblocks + r]
  if state and #state == 40 then w, a, c, p, t = unpack_state('<ddddd', state) end
  -- Roll to the current window (floor division kept exact with fmod); a
  -- clock behind the stored window stays in it.
  local index = (now - fmod(now, window)) / window
  if index > w then
    if algorithm == 's' and w + 1 == index then p = c else p = 0 end
    c, a, w = 0, 0, index
  end
  local admits
  local interval = tonumber(ARGV[at + 6])
  if algorithm == 'f' then
    admits = c + cost <= limit
  elseif algorithm == 's' then
    admits = p * (window - max(now - w * window, 0)) + (c + cost) * window <= limit * window
  else
    admits = max(t, now * 1000) + cost * interval - now * 1000 <= limit * interval
  end
  allowed = allowed and admits
  rules[r] = {algorithm, window, cost, tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5]), interval, admits, w, a, c, p, t}
end

local reply = {1, allowed and 1 or 0}
for r = 1, nrules do
  local rule = rules[r]
  local algorithm, window, cost, threshold, block_key, interval, admits, w, a, c, p, t = unpack(rule)
  a = a + cost
  if allowed then
    if algorithm == 'g' then t = max(t, now * 1000) + cost * interval else c = c + cost end
  end
  redis.call('SET', KEYS[nblocks + r], pack('<ddddd', w, a, c, p, t), 'PX', 2 * window)
  local blocked = 0
  if threshold > 0 and a > threshold and block_key > 0 then
    redis.call('SET', KEYS[block_key], 'abuse', 'PX', block_ms)
    blocked = 1
  end
  local n = #reply
  reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4] = admits and 1 or 0, w, a, c
  reply[n + 5], reply[n + 6], reply[n + 7] = p, t, blocked
end
return reply

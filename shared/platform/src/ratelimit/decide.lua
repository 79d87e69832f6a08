-- Decides every rule of one request atomically: the request is charged to
-- all of its rules or to none. The twin of tessera_core::ratelimit::decide,
-- which a test holds it to: integers only, exact in Lua's doubles.
--
-- KEYS: the subjects' block keys (ARGV[2] of them), then one hash per rule.
-- ARGV: now (ms), the number of block keys, then seven values per rule:
--   algorithm (sliding | gcra | fixed), limit, window (ms), cost,
--   abuse threshold (0: never), block (ms), its subject's block key (0: none).
-- Returns {0, block key index, ms left} when a subject is blocked, else
--   {1, allowed, then per rule: admitted, w, a, c, p, t, blocked now}.

local now = tonumber(ARGV[1])
local nblocks = tonumber(ARGV[2])
for i = 1, nblocks do
  local left = redis.call('PTTL', KEYS[i])
  if left > 0 then return {0, i, left} end
end

-- Floor division that stays exact where a / b would round up.
local function idiv(a, b) return (a - math.fmod(a, b)) / b end
local function int(x) return string.format('%.0f', x) end

local rules, allowed = {}, true
for r = 1, #KEYS - nblocks do
  local at = 3 + (r - 1) * 7
  local rule = {
    key = KEYS[nblocks + r], algorithm = ARGV[at], limit = tonumber(ARGV[at + 1]),
    window = tonumber(ARGV[at + 2]), cost = tonumber(ARGV[at + 3]), threshold = tonumber(ARGV[at + 4]),
    block = tonumber(ARGV[at + 5]), block_key = tonumber(ARGV[at + 6]),
  }
  local stored = redis.call('HMGET', rule.key, 'w', 'a', 'c', 'p', 't')
  local s = {
    w = tonumber(stored[1]) or 0, a = tonumber(stored[2]) or 0, c = tonumber(stored[3]) or 0,
    p = tonumber(stored[4]) or 0, t = tonumber(stored[5]) or 0,
  }
  -- Roll to the current window; a clock behind the stored one stays there.
  local index = idiv(now, rule.window)
  if index > s.w then
    if rule.algorithm == 'sliding' and s.w + 1 == index then s.p = s.c else s.p = 0 end
    s.c, s.a, s.w = 0, 0, index
  end
  local admits
  if rule.algorithm == 'fixed' then
    admits = s.c + rule.cost <= rule.limit
  elseif rule.algorithm == 'sliding' then
    local elapsed = math.max(now - s.w * rule.window, 0)
    admits = s.p * (rule.window - elapsed) + (s.c + rule.cost) * rule.window <= rule.limit * rule.window
  else
    rule.interval = idiv(rule.window * 1000 + rule.limit - 1, rule.limit)
    local now_us = now * 1000
    admits = math.max(s.t, now_us) + rule.cost * rule.interval - now_us <= rule.limit * rule.interval
  end
  rule.state, rule.admits = s, admits
  allowed = allowed and admits
  rules[r] = rule
end

local reply = {1, allowed and 1 or 0}
for _, rule in ipairs(rules) do
  local s = rule.state
  s.a = s.a + rule.cost
  if allowed then
    if rule.algorithm == 'gcra' then
      s.t = math.max(s.t, now * 1000) + rule.cost * rule.interval
    else
      s.c = s.c + rule.cost
    end
  end
  redis.call('HSET', rule.key, 'w', int(s.w), 'a', int(s.a), 'c', int(s.c), 'p', int(s.p), 't', int(s.t))
  redis.call('PEXPIRE', rule.key, 2 * rule.window)
  local blocked = 0
  if rule.threshold > 0 and s.a > rule.threshold and rule.block_key > 0 then
    redis.call('SET', KEYS[rule.block_key], 'abuse', 'PX', rule.block)
    blocked = 1
  end
  for _, value in ipairs({rule.admits and 1 or 0, s.w, s.a, s.c, s.p, s.t, blocked}) do
    table.insert(reply, value)
  end
end
return reply

-- Gives back the charges of one slot's rules when a rule or a block in
-- another slot stopped the request (cluster mode only; a single node never
-- charges a stopped request). The twin of RuleState::refund.
--
-- KEYS: one hash per rule.
-- ARGV: six values per rule: algorithm, limit, window (ms), cost, the
--   window index the charge was made in, attempts to take back (a blocked
--   request is no attempt).

local function idiv(a, b) return (a - math.fmod(a, b)) / b end
for r = 1, #KEYS do
  local at = (r - 1) * 6 + 1
  local algorithm, limit, window = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local cost, charged_in, attempts = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5])
  local stored = redis.call('HMGET', KEYS[r], 'w', 'c', 't', 'a')
  if attempts > 0 and tonumber(stored[1]) == charged_in then
    redis.call('HSET', KEYS[r], 'a', string.format('%.0f', math.max(tonumber(stored[4]) - attempts, 0)))
  end
  if algorithm == 'gcra' then
    local t = tonumber(stored[3])
    if t then
      local interval = idiv(window * 1000 + limit - 1, limit)
      redis.call('HSET', KEYS[r], 't', string.format('%.0f', math.max(t - cost * interval, 0)))
    end
  elseif tonumber(stored[1]) == charged_in then
    redis.call('HSET', KEYS[r], 'c', string.format('%.0f', math.max(tonumber(stored[2]) - cost, 0)))
  end
end
return #KEYS

-- Gives back the charges of one slot's rules when a rule or a block in
-- another slot stopped the request (cluster mode only; a single node never
-- charges a stopped request). The twin of RuleState::refund.
--
-- KEYS: one state per rule (five doubles, see decide.lua).
-- ARGV: five values per rule: algorithm (s, g, f), GCRA's emission
--   interval (µs), the cost to give back, the window index it was charged
--   in, attempts to take back (a blocked request is no attempt).

local max = math.max
for r = 1, #KEYS do
  local at = (r - 1) * 5 + 1
  local algorithm, interval, cost = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local charged_in, attempts = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
  local state = redis.call('GET', KEYS[r])
  if state and #state == 40 then
    local w, a, c, p, t = struct.unpack('<ddddd', state)
    if w == charged_in then
      a = max(a - attempts, 0)
      if algorithm ~= 'g' then c = max(c - cost, 0) end
    end
    if algorithm == 'g' then t = max(t - cost * interval, 0) end
    redis.call('SET', KEYS[r], struct.pack('<ddddd', w, a, c, p, t), 'KEEPTTL')
  end
end
return #KEYS

"""Lua scripts that make each session check-and-write atomic in Redis.

Python cannot check a session's status/expiry and then write without a window in which
another server process closes, expires or updates it; each script below does both in one
step. Conventions shared by all of them:

* KEYS[1] is the session hash `session:<id>`; KEYS[2] (when present) is the user's index
  set `session:index:<user>`. Data keys `session:<id>:data:<name>` are derived from the
  ARGV data prefix and the names in metadata.data_keys (never from SCAN).
* Time comes from the caller as fixed-width UTC ISO-8601 strings (`now`, `new_expires`),
  so expiry checks are string comparisons and every server agrees on one clock format.
* Replies are arrays whose first element is a state word: 'ok', 'missing', 'expired'
  (+ expires_at), 'closed' (+ closed time), 'closing', 'readonly', 'toomany' (+ limit),
  'state' (+ status), 'corrupt'.
* metadata is never re-encoded with cjson (it would turn [] into {} and round numbers in
  extra server info): the server writes it with data_keys first, and the scripts splice
  only that object, whose names cannot contain '}' or '"' (name pattern [A-Za-z0-9_.:-]).
"""

from __future__ import annotations

_PRELUDE = r"""
local DATA_KEYS_PREFIX = '{"data_keys":{'

local function decode_meta(raw)
  if not raw then return nil end
  local ok, meta = pcall(cjson.decode, raw)
  if not ok or type(meta) ~= 'table' or type(meta.data_keys) ~= 'table' then return nil end
  return meta
end

-- metadata text with its data_keys object replaced by `names` (a set), rest byte-identical
local function with_data_keys(raw, names)
  if string.sub(raw, 1, #DATA_KEYS_PREFIX) ~= DATA_KEYS_PREFIX then return nil end
  local close = string.find(raw, '}', #DATA_KEYS_PREFIX + 1, true)
  if not close then return nil end
  local sorted = {}
  for name in pairs(names) do sorted[#sorted + 1] = name end
  table.sort(sorted)
  local parts = {}
  for i, name in ipairs(sorted) do parts[i] = '"' .. name .. '":true' end
  return DATA_KEYS_PREFIX .. table.concat(parts, ',') .. string.sub(raw, close)
end

local function drop_data(hash, raw, meta, data_prefix)
  for name in pairs(meta.data_keys) do redis.call('DEL', data_prefix .. name) end
  local emptied = with_data_keys(raw, {})
  if emptied then redis.call('HSET', hash, 'metadata', emptied) end
end

-- nil, fields, meta for a session that may be used now; otherwise an error reply.
-- An active session whose expires_at has passed is marked expired and its data deleted.
local function guard(hash, now, ttl, data_prefix, allow_closing)
  local f = redis.call('HMGET', hash, 'status', 'expires_at', 'last_accessed', 'metadata', 'access_level')
  local status, expires_at = f[1], f[2]
  if not status then return {'missing'} end
  local meta = decode_meta(f[4])
  if not meta or not expires_at or tonumber(meta.ttl_seconds) ~= ttl then return {'corrupt'} end
  if status == 'closed' then return {'closed', f[3]} end
  if status == 'expired' then return {'expired', expires_at} end
  if status == 'closing' and not allow_closing then return {'closing'} end
  if status ~= 'active' and status ~= 'closing' then return {'corrupt'} end
  if now >= expires_at then
    redis.call('HSET', hash, 'status', 'expired')
    drop_data(hash, f[4], meta, data_prefix)
    return {'expired', expires_at}
  end
  return nil, f, meta
end

-- Sliding expiry: the hash outlives its data by `grace` so late callers learn "expired".
local function touch(hash, index, meta, now, new_expires, data_ttl, grace, data_prefix)
  redis.call('HSET', hash, 'last_accessed', now, 'expires_at', new_expires)
  redis.call('EXPIRE', hash, data_ttl + grace)
  for name in pairs(meta.data_keys) do redis.call('EXPIRE', data_prefix .. name, data_ttl) end
  if redis.call('TTL', index) < data_ttl + grace then redis.call('EXPIRE', index, data_ttl + grace) end
end
"""

# KEYS: hash, index. ARGV: hash_ttl, session_id, field1, value1, ...
CREATE = r"""
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
local want = tonumber(ARGV[1])
if redis.call('TTL', KEYS[2]) < want then redis.call('EXPIRE', KEYS[2], want) end
return {'ok'}
"""

# KEYS: hash, index. ARGV: now, new_expires, ttl, grace, data_prefix, read_name ('' = none).
# Reply: {'ok', HGETALL, found (1/0), token or ''}.
TOUCH = (
    _PRELUDE
    + r"""
local ttl, grace, prefix = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local err, f, meta = guard(KEYS[1], ARGV[1], ttl, prefix, false)
if err then return err end
touch(KEYS[1], KEYS[2], meta, ARGV[1], ARGV[2], ttl, grace, prefix)
local token = false
if ARGV[6] ~= '' and meta.data_keys[ARGV[6]] then token = redis.call('GET', prefix .. ARGV[6]) end
if token then return {'ok', redis.call('HGETALL', KEYS[1]), 1, token} end
return {'ok', redis.call('HGETALL', KEYS[1]), 0, ''}
"""
)

# KEYS: hash, index, data key. ARGV: now, new_expires, ttl, grace, data_prefix, name, token, max_keys.
# Reply: {'ok', HGETALL}.
WRITE = (
    _PRELUDE
    + r"""
local ttl, grace, prefix, name = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local err, f, meta = guard(KEYS[1], ARGV[1], ttl, prefix, false)
if err then return err end
if f[5] ~= 'write' then return {'readonly'} end
if not string.find(name, '^[%w_%.:%-]+$') then return {'corrupt'} end
if not meta.data_keys[name] then
  local count = 0
  for _ in pairs(meta.data_keys) do count = count + 1 end
  if count >= tonumber(ARGV[8]) then return {'toomany', ARGV[8]} end
  meta.data_keys[name] = true
  local updated = with_data_keys(f[4], meta.data_keys)
  if not updated then return {'corrupt'} end
  redis.call('HSET', KEYS[1], 'metadata', updated)
end
redis.call('SET', KEYS[3], ARGV[7], 'EX', ttl)
touch(KEYS[1], KEYS[2], meta, ARGV[1], ARGV[2], ttl, grace, prefix)
return {'ok', redis.call('HGETALL', KEYS[1])}
"""
)

# Close step A. KEYS: hash, index. ARGV: now, new_expires, ttl, grace, data_prefix, hold.
# active/closing -> closing (writes refused); data kept alive at least `hold` seconds so the
# snapshot cannot expire while it is being archived. Reply: {'ok', HGETALL, {name, token, ...}}.
CLOSE_BEGIN = (
    _PRELUDE
    + r"""
local ttl, grace, prefix = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local err, f, meta = guard(KEYS[1], ARGV[1], ttl, prefix, true)
if err then return err end
redis.call('HSET', KEYS[1], 'status', 'closing')
touch(KEYS[1], KEYS[2], meta, ARGV[1], ARGV[2], math.max(ttl, tonumber(ARGV[6])), grace, prefix)
local data = {}
for name in pairs(meta.data_keys) do
  local token = redis.call('GET', prefix .. name)
  if token then
    data[#data + 1] = name
    data[#data + 1] = token
  end
end
return {'ok', redis.call('HGETALL', KEYS[1]), data}
"""
)

# Undo step A after a failed archive. KEYS: hash, index. ARGV: now, new_expires, ttl, grace, prefix.
# closing -> active with the exact TTLs again; any other state is left alone.
CLOSE_ABORT = (
    _PRELUDE
    + r"""
local f = redis.call('HMGET', KEYS[1], 'status', 'metadata')
if f[1] ~= 'closing' then return {'state', f[1] or 'missing'} end
local meta = decode_meta(f[2])
if not meta then return {'corrupt'} end
redis.call('HSET', KEYS[1], 'status', 'active')
touch(KEYS[1], KEYS[2], meta, ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5])
return {'ok'}
"""
)

# Close step C. KEYS: hash, index. ARGV: now, grace, data_prefix, session_id.
# closing -> closed: data deleted, hash kept `grace` seconds to answer "closed at", id
# leaves the index. last_accessed records the close time. Already closed -> {'closed', at}.
CLOSE_FINISH = (
    _PRELUDE
    + r"""
local f = redis.call('HMGET', KEYS[1], 'status', 'metadata', 'last_accessed')
if not f[1] then return {'missing'} end
if f[1] == 'closed' then return {'closed', f[3]} end
if f[1] ~= 'closing' then return {'state', f[1]} end
local meta = decode_meta(f[2])
if not meta then return {'corrupt'} end
drop_data(KEYS[1], f[2], meta, ARGV[3])
redis.call('HSET', KEYS[1], 'status', 'closed', 'last_accessed', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[4])
return {'ok', ARGV[1]}
"""
)

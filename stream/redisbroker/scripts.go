package redisbroker

import "github.com/redis/go-redis/v9"

// publishScript numbers a publication and records it in one step.
//
//	KEYS: stream, seqs (hash topic → seq), kinds (hash topic → s|e),
//	      state (the topic's hash) or events (the topic's list), epoch,
//	      sources (hash topic → last source published)
//	ARGV: topic, kind, payload, maxlen, keep (events kept), epoch, source,
//	      nset, k1, v1, …, then the keys to delete
//
// It refuses to run when the epoch key is not the caller's: Redis lost the
// hub's keys (a restart without persistence), and numbering afresh would
// make instances skip what they take for old sequences. A publication with
// a source at or before the topic's last one is skipped (0): another
// instance published it already.
var publishScript = redis.NewScript(`
if redis.call('GET', KEYS[5]) ~= ARGV[6] then
  return redis.error_reply('CITYWALL_EPOCH the hub epoch in Redis is not the one of this instance')
end
if ARGV[7] ~= '' then
  local last = redis.call('HGET', KEYS[6], ARGV[1])
  if last and ARGV[7] <= last then
    return 0
  end
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[7])
end
local topic, kind = ARGV[1], ARGV[2]
local seq = redis.call('HINCRBY', KEYS[2], topic, 1)
redis.call('HSET', KEYS[3], topic, kind)
if kind == 's' then
  local n = tonumber(ARGV[8])
  local i = 9
  local last = i + 2 * n - 1
  while i <= last do
    local j = math.min(i + 999, last)
    redis.call('HSET', KEYS[4], unpack(ARGV, i, j))
    i = j + 1
  end
  while i <= #ARGV do
    local j = math.min(i + 999, #ARGV)
    redis.call('HDEL', KEYS[4], unpack(ARGV, i, j))
    i = j + 1
  end
else
  redis.call('RPUSH', KEYS[4], seq .. ' ' .. ARGV[3])
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[5]), -1)
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 't', topic, 'k', kind, 's', seq, 'd', ARGV[3])
`)

// snapshotScript reads every topic at one point of the stream.
//
//	KEYS: stream, seqs, kinds, epoch
//	ARGV: state key prefix, events key prefix
//
// Returns {epoch, last id, kinds (flat), seqs (flat), then per topic of
// kinds in order its state (flat hash) or events (list)}.
var snapshotScript = redis.NewScript(`
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local lastid = '0-0'
if #last > 0 then lastid = last[1][1] end
local epoch = redis.call('GET', KEYS[4]) or ''
local kinds = redis.call('HGETALL', KEYS[3])
local out = {epoch, lastid, kinds, redis.call('HGETALL', KEYS[2])}
for i = 1, #kinds, 2 do
  if kinds[i + 1] == 's' then
    out[#out + 1] = redis.call('HGETALL', ARGV[1] .. kinds[i])
  else
    out[#out + 1] = redis.call('LRANGE', ARGV[2] .. kinds[i], 0, -1)
  end
end
return out
`)

// producerScript keeps the interim producer lock: it takes the lock when
// free and extends it when held by the caller.
//
//	KEYS: lock; ARGV: holder, ttl ms
var producerScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

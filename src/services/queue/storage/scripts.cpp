#include "services/queue/storage/scripts.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "coord/memory/memory_state.hpp"

namespace tiketi::queue::scripts {
namespace {

using coord::MemoryState;
using coord::Reply;
using coord::ReplyArray;
using Strings = std::vector<std::string>;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::int64_t to_i64(const std::string& s) { return std::stoll(s); }
Reply i(std::int64_t v) { return Reply{v}; }

// Sessions with expiry strictly after `now` (ZCOUNT key (now +inf).
std::int64_t live_sessions(MemoryState& m, const std::string& key, Millis now) {
  return m.zcount(key, std::nextafter(static_cast<double>(now), kInf), kInf);
}

coord::Script make_join() {
  coord::Script s;
  s.name = "queue.join";
  s.lua = R"lua(
local now = tonumber(ARGV[2])
local exp = redis.call('ZSCORE', KEYS[4], ARGV[1])
if exp then
  if tonumber(exp) > now then
    return {1, tonumber(exp)}
  end
  redis.call('ZREM', KEYS[4], ARGV[1])
end
local created = 0
local seq = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not seq then
  local cap = tonumber(ARGV[7] or '0')
  if cap > 0 and ARGV[6] ~= '' then
    local used = tonumber(redis.call('ZSCORE', KEYS[5], ARGV[6]) or '0')
    if used >= cap then
      return {3}
    end
    redis.call('ZINCRBY', KEYS[5], 1, ARGV[6])
  end
  if ARGV[3] == '1' and redis.call('ZCARD', KEYS[1]) == 0 and
     redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[2], '+inf') < tonumber(ARGV[4]) then
    local e = now + tonumber(ARGV[5])
    redis.call('ZADD', KEYS[4], e, ARGV[1])
    redis.call('ZREM', KEYS[6], ARGV[1])
    return {1, e}
  end
  seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], 'NX', seq, ARGV[1])
  created = 1
end
redis.call('ZADD', KEYS[3], now, ARGV[1])
return {0, redis.call('ZRANK', KEYS[1], ARGV[1]), tonumber(seq), created,
        redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[2], '+inf')}
)lua";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    const Millis now = to_i64(a[1]);
    if (auto exp = m.zscore(k[3], a[0])) {
      if (*exp > static_cast<double>(now)) {
        return Reply{ReplyArray{i(1), i(static_cast<std::int64_t>(*exp))}};
      }
      m.zrem(k[3], a[0]);
    }
    std::int64_t created = 0;
    auto seq = m.zscore(k[0], a[0]);
    if (!seq) {
      const std::int64_t cap = a.size() > 6 ? to_i64(a[6]) : 0;
      if (cap > 0 && !a[5].empty()) {
        const double used = m.zscore(k[4], a[5]).value_or(0);
        if (used >= static_cast<double>(cap)) {
          return Reply{ReplyArray{i(3)}};
        }
        m.zadd(k[4], a[5], used + 1);
      }
      if (a[2] == "1" && m.zcard(k[0]) == 0 && live_sessions(m, k[3], now) < to_i64(a[3])) {
        const std::int64_t e = now + to_i64(a[4]);
        m.zadd(k[3], a[0], static_cast<double>(e));
        m.zrem(k[5], a[0]);
        return Reply{ReplyArray{i(1), i(e)}};
      }
      seq = static_cast<double>(m.incr(k[1]));
      m.zadd(k[0], a[0], *seq, true);
      created = 1;
    }
    m.zadd(k[2], a[0], static_cast<double>(now));
    return Reply{ReplyArray{i(0), i(*m.zrank(k[0], a[0])), i(static_cast<std::int64_t>(*seq)), i(created),
                            i(live_sessions(m, k[3], now))}};
  };
  return s;
}

coord::Script make_status() {
  coord::Script s;
  s.name = "queue.status";
  s.lua = R"lua(
local now = tonumber(ARGV[2])
local exp = redis.call('ZSCORE', KEYS[3], ARGV[1])
if exp and tonumber(exp) > now then
  return {1, tonumber(exp)}
end
local seq = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not seq then
  return {2}
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
return {0, redis.call('ZRANK', KEYS[1], ARGV[1]), tonumber(seq), 0,
        redis.call('ZCOUNT', KEYS[3], '(' .. ARGV[2], '+inf')}
)lua";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    const Millis now = to_i64(a[1]);
    if (auto exp = m.zscore(k[2], a[0]); exp && *exp > static_cast<double>(now)) {
      return Reply{ReplyArray{i(1), i(static_cast<std::int64_t>(*exp))}};
    }
    auto seq = m.zscore(k[0], a[0]);
    if (!seq) {
      return Reply{ReplyArray{i(2)}};
    }
    m.zadd(k[1], a[0], static_cast<double>(now));
    return Reply{ReplyArray{i(0), i(*m.zrank(k[0], a[0])), i(static_cast<std::int64_t>(*seq)), i(0),
                            i(live_sessions(m, k[2], now))}};
  };
  return s;
}

coord::Script make_leave() {
  coord::Script s;
  s.name = "queue.leave";
  s.lua = R"lua(
redis.call('ZREM', KEYS[2], ARGV[1])
if KEYS[4] then
  redis.call('ZREM', KEYS[4], ARGV[1])
end
return redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[3], ARGV[1])
)lua";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    m.zrem(k[1], a[0]);
    if (k.size() > 3) {
      m.zrem(k[3], a[0]);
    }
    const bool line = m.zrem(k[0], a[0]);
    const bool active = m.zrem(k[2], a[0]);
    return i(static_cast<std::int64_t>(line) + static_cast<std::int64_t>(active));
  };
  return s;
}

coord::Script make_admit() {
  coord::Script s;
  s.name = "queue.admit";
  s.lua = R"lua(
local fence = tonumber(redis.call('GET', KEYS[5]) or '0')
local token = tonumber(ARGV[5])
if fence > token then
  return {-1}
end
if fence < token then
  redis.call('SET', KEYS[5], ARGV[5])
end
local now = tonumber(ARGV[1])
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local n = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[2]))
local head = tonumber(redis.call('GET', KEYS[4]) or '0')
local out = {0, expired, head}
local admitted = {}
if n > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], n)
  local e = now + tonumber(ARGV[4])
  for j = 1, #popped, 2 do
    redis.call('ZADD', KEYS[2], e, popped[j])
    redis.call('ZREM', KEYS[3], popped[j])
    if KEYS[6] then
      redis.call('ZREM', KEYS[6], popped[j])
    end
    head = tonumber(popped[j + 1])
    admitted[#admitted + 1] = popped[j]
    admitted[#admitted + 1] = head
  end
  redis.call('SET', KEYS[4], head)
  out[3] = head
end
out[4] = redis.call('ZCARD', KEYS[1])
out[5] = redis.call('ZCARD', KEYS[2])
for j = 1, #admitted do
  out[5 + j] = admitted[j]
end
return out
)lua";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    const std::int64_t fence = std::stoll(m.get(k[4]).value_or("0"));
    const std::int64_t token = to_i64(a[4]);
    if (fence > token) {
      return Reply{ReplyArray{i(-1)}};
    }
    if (fence < token) {
      m.set(k[4], a[4]);
    }
    const Millis now = to_i64(a[0]);
    const auto ended = m.zrange_by_score(k[1], -kInf, static_cast<double>(now));
    for (const auto& e : ended) {
      m.zrem(k[1], e.member);
    }
    const std::int64_t n = std::min(to_i64(a[1]), to_i64(a[2]) - m.zcard(k[1]));
    std::int64_t head = std::stoll(m.get(k[3]).value_or("0"));
    ReplyArray out{i(0), i(static_cast<std::int64_t>(ended.size())), i(head), i(0), i(0)};
    if (n > 0) {
      const double expiry = static_cast<double>(now + to_i64(a[3]));
      for (const auto& p : m.zpop_min(k[0], n)) {
        m.zadd(k[1], p.member, expiry);
        m.zrem(k[2], p.member);
        if (k.size() > 5) {
          m.zrem(k[5], p.member);
        }
        head = static_cast<std::int64_t>(p.score);
        out.push_back(Reply{p.member});
        out.push_back(i(head));
      }
      m.set(k[3], std::to_string(head));
      out[2] = i(head);
    }
    out[3] = i(m.zcard(k[0]));
    out[4] = i(m.zcard(k[1]));
    return Reply{std::move(out)};
  };
  return s;
}

coord::Script make_sweep() {
  coord::Script s;
  s.name = "queue.sweep";
  s.lua = R"lua(
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, u in ipairs(gone) do
  redis.call('ZREM', KEYS[1], u)
  redis.call('ZREM', KEYS[2], u)
end
return #gone
)lua";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    const auto gone = m.zrange_by_score(k[1], -kInf, static_cast<double>(to_i64(a[0])), to_i64(a[1]));
    for (const auto& g : gone) {
      m.zrem(k[0], g.member);
      m.zrem(k[1], g.member);
    }
    return i(static_cast<std::int64_t>(gone.size()));
  };
  return s;
}

coord::Script make_open() {
  coord::Script s;
  s.name = "queue.open";
  s.lua = R"lua(
if redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
redis.call('SET', KEYS[2], '1')
local n = 0
for j = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[j]) then
    redis.call('ZADD', KEYS[1], ARGV[j + 1], ARGV[j])
    n = n + 1
  end
end
return n
)lua";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    if (m.exists(k[1])) {
      return i(-1);
    }
    m.set(k[1], "1");
    std::int64_t n = 0;
    for (std::size_t j = 0; j + 1 < a.size(); j += 2) {
      if (m.zscore(k[0], a[j])) {
        m.zadd(k[0], a[j], static_cast<double>(to_i64(a[j + 1])));
        ++n;
      }
    }
    return i(n);
  };
  return s;
}

coord::Script make_renew() {
  coord::Script s;
  s.name = "queue.renew";
  s.lua = R"lua(
local now = tonumber(ARGV[2])
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not exp or tonumber(exp) <= now then
  return {2}
end
local used = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if used >= tonumber(ARGV[4]) then
  return {3, tonumber(exp)}
end
local e = now + tonumber(ARGV[3])
if e <= tonumber(exp) then
  return {1, tonumber(exp), used}
end
redis.call('ZINCRBY', KEYS[2], 1, ARGV[1])
redis.call('ZADD', KEYS[1], e, ARGV[1])
return {1, e, used + 1}
)lua";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    const Millis now = to_i64(a[1]);
    auto exp = m.zscore(k[0], a[0]);
    if (!exp || *exp <= static_cast<double>(now)) {
      return Reply{ReplyArray{i(2)}};
    }
    const auto used = static_cast<std::int64_t>(m.zscore(k[1], a[0]).value_or(0));
    if (used >= to_i64(a[3])) {
      return Reply{ReplyArray{i(3), i(static_cast<std::int64_t>(*exp))}};
    }
    const std::int64_t e = now + to_i64(a[2]);
    if (static_cast<double>(e) <= *exp) {
      return Reply{ReplyArray{i(1), i(static_cast<std::int64_t>(*exp)), i(used)}};
    }
    m.zadd(k[1], a[0], static_cast<double>(used + 1));
    m.zadd(k[0], a[0], static_cast<double>(e));
    return Reply{ReplyArray{i(1), i(e), i(used + 1)}};
  };
  return s;
}

coord::Script make_count_active() {
  coord::Script s;
  s.name = "queue.count_active";
  s.lua = "return redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')";
  s.native = [](MemoryState& m, const Strings& k, const Strings& a) -> Reply {
    return i(live_sessions(m, k[0], to_i64(a[0])));
  };
  return s;
}

}  // namespace

const coord::Script& join() {
  static const coord::Script s = make_join();
  return s;
}
const coord::Script& status() {
  static const coord::Script s = make_status();
  return s;
}
const coord::Script& leave() {
  static const coord::Script s = make_leave();
  return s;
}
const coord::Script& admit() {
  static const coord::Script s = make_admit();
  return s;
}
const coord::Script& sweep() {
  static const coord::Script s = make_sweep();
  return s;
}
const coord::Script& open() {
  static const coord::Script s = make_open();
  return s;
}
const coord::Script& renew() {
  static const coord::Script s = make_renew();
  return s;
}
const coord::Script& count_active() {
  static const coord::Script s = make_count_active();
  return s;
}

}  // namespace tiketi::queue::scripts

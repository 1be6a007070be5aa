#include "net/middleware.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <unordered_map>

#include "core/error.hpp"
#include "core/log.hpp"

namespace tiketi::net {

Handler chain(const std::vector<Middleware>& mws, Handler inner) {
  Handler h = std::move(inner);
  for (auto it = mws.rbegin(); it != mws.rend(); ++it) {
    // The returned awaitable keeps a reference to `next`, which lives in this closure: the
    // composed handler must outlive every call made through it (the server keeps it per route).
    h = [mw = *it, next = std::move(h)](Request& req) -> Task<Response> { return mw(req, next); };
  }
  return h;
}

namespace {

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

}  // namespace

bool parse_traceparent(std::string_view h, std::string& trace_id, std::string& parent_id) {
  // version(2) - trace(32) - parent(16) - flags(2) = 55 chars. Future versions may append
  // "-..." fields; version 00 must be exactly 55.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') {
    return false;
  }
  std::string_view version = h.substr(0, 2);
  std::string_view trace = h.substr(3, 32);
  std::string_view parent = h.substr(36, 16);
  std::string_view flags = h.substr(53, 2);
  if (!is_lower_hex(version) || version == "ff" || !is_lower_hex(trace) || !is_lower_hex(parent) ||
      !is_lower_hex(flags)) {
    return false;
  }
  if (version == "00" ? h.size() != 55 : (h.size() > 55 && h[55] != '-')) {
    return false;
  }
  if (all_zero(trace) || all_zero(parent)) {
    return false;
  }
  trace_id.assign(trace);
  parent_id.assign(parent);
  return true;
}

std::string make_traceparent(const std::string& trace_id, const std::string& span_id) {
  std::string out;
  out.reserve(55);
  out += "00-";
  out += trace_id;
  out += '-';
  out += span_id;
  out += "-01";
  return out;
}

// ---- RateLimiter -------------------------------------------------------------------------

namespace {
constexpr std::size_t kShards = 16;
// Upper bound on tracked clients per shard; beyond it idle buckets are swept and, if needed,
// arbitrary ones dropped so memory stays bounded whatever the number of client addresses.
constexpr std::size_t kMaxKeysPerShard = 8192;
constexpr std::uint32_t kSweepEvery = 4096;
}  // namespace

struct RateLimiter::Impl {
  struct Bucket {
    double tokens;
    double last;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    std::uint32_t ops = 0;
    double last_sweep = 0;
  };
  double rate;
  double burst;
  std::array<Shard, kShards> shards;

  // A bucket that would be full again is indistinguishable from a new one: drop it.
  void sweep(Shard& s, double now) {
    s.last_sweep = now;
    double refill_time = burst / rate;
    for (auto it = s.buckets.begin(); it != s.buckets.end();) {
      if (now - it->second.last >= refill_time) {
        it = s.buckets.erase(it);
      } else {
        ++it;
      }
    }
    // Still full of active clients: drop a quarter at once so the O(n) sweep is amortised over
    // many inserts instead of running on every one.
    if (s.buckets.size() >= kMaxKeysPerShard) {
      while (s.buckets.size() > kMaxKeysPerShard * 3 / 4) {
        s.buckets.erase(s.buckets.begin());
      }
    }
  }
};

RateLimiter::RateLimiter(double rate_per_sec, double burst) : impl_(std::make_unique<Impl>()) {
  impl_->rate = rate_per_sec > 0 ? rate_per_sec : 1.0;
  impl_->burst = burst >= 1 ? burst : std::max(1.0, 2 * impl_->rate);
}

RateLimiter::~RateLimiter() = default;

int RateLimiter::acquire(const std::string& key, double now) {
  auto& shard = impl_->shards[std::hash<std::string>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  // Sweep by count, by size, and at least once per refill period so idle buckets never linger.
  if (++shard.ops % kSweepEvery == 0 || shard.buckets.size() >= kMaxKeysPerShard ||
      now - shard.last_sweep >= std::max(1.0, impl_->burst / impl_->rate)) {
    impl_->sweep(shard, now);
  }
  auto [it, inserted] = shard.buckets.try_emplace(key, Impl::Bucket{impl_->burst, now});
  auto& b = it->second;
  if (!inserted) {
    double elapsed = std::max(0.0, now - b.last);
    b.tokens = std::min(impl_->burst, b.tokens + elapsed * impl_->rate);
    b.last = std::max(b.last, now);
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  double wait = (1.0 - b.tokens) / impl_->rate;
  return std::max(1, static_cast<int>(std::ceil(wait)));
}

std::size_t RateLimiter::tracked_keys() const {
  std::size_t n = 0;
  for (auto& s : impl_->shards) {
    std::lock_guard lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

// ---- errors ------------------------------------------------------------------------------

Response error_response(const std::exception& e, const LogContext& log) {
  if (const auto* api = dynamic_cast<const ApiError*>(&e)) {
    Response r = Response::json(api->status(), api->to_json());
    if (api->retry_after() > 0) {
      r.headers.emplace_back("Retry-After", std::to_string(api->retry_after()));
    }
    if (api->status() >= 500) {
      log::warn(log, "request failed", {lf("code", api->code()), lf("status", api->status())});
    }
    return r;
  }
  // Unknown exceptions are bugs or infrastructure failures: log the detail, never send it.
  log::error(log, "unhandled exception", {lf("error", e.what())});
  return Response::json(500, errors::internal().to_json());
}

}  // namespace tiketi::net

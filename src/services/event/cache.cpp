#include <cstdio>

#include "services/event/state.hpp"

namespace tiketi::event {
namespace {
std::string fnv1a_hex(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h = (h ^ c) * 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
}  // namespace

std::shared_ptr<const ResponseCache::Entry> ResponseCache::get(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->version != version()) {
    return nullptr;
  }
  return it->second;
}

std::shared_ptr<const ResponseCache::Entry> ResponseCache::put(const std::string& key, std::uint64_t v,
                                                               std::string body) {
  std::string etag;
  etag.reserve(40);
  etag.append(1, '"').append(std::to_string(v)).append(1, '-').append(fnv1a_hex(body)).append(1, '"');
  auto e = std::make_shared<const Entry>(Entry{v, std::move(body), std::move(etag)});
  std::unique_lock lock(mu_);
  if (entries_.size() >= kMaxEntries) {
    entries_.clear();
  }
  entries_[key] = e;
  return e;
}

void ResponseCache::observe(std::uint64_t v) {
  auto cur = version_.load();
  while (v > cur && !version_.compare_exchange_weak(cur, v)) {
  }
}

std::size_t ResponseCache::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

Task<void> EventState::invalidate() {
  const auto v = co_await ctx.coord->incr(kCatalogVersionKey);
  cache.observe(static_cast<std::uint64_t>(v));
  co_await ctx.coord->publish(kCatalogChannel, std::to_string(v));
  if (relay) {
    relay->notify();
  }
}

Task<void> EventState::refresh_version() {
  if (auto v = co_await ctx.coord->get(kCatalogVersionKey)) {
    try {
      cache.observe(std::stoull(*v));
    } catch (const std::exception&) {
    }
  }
}

}  // namespace tiketi::event

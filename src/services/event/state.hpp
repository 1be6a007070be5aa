#pragma once
// What the event handlers share, built in EventService::start().
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "app/service.hpp"
#include "coord/outbox.hpp"
#include "services/common/auth_verify.hpp"
#include "services/event/images/storage.hpp"
#include "services/event/storage/event_store.hpp"

namespace tiketi::event {

// Public read responses, cached in-process and invalidated by a catalogue version counter that lives
// in the Coordinator: every admin change increments it, so in the scaled shape every replica drops
// its cached pages (pub/sub for speed, a periodic read of the counter as the safety net).
class ResponseCache {
 public:
  struct Entry {
    std::uint64_t version;
    std::string body;
    std::string etag;
  };
  std::shared_ptr<const Entry> get(const std::string& key) const;
  // `version` is the one read before the data was loaded, so a change racing the load is never
  // cached under the newer version.
  std::shared_ptr<const Entry> put(const std::string& key, std::uint64_t version, std::string body);
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  // Raises the local version (never lowers it: messages may arrive out of order).
  void observe(std::uint64_t v);
  std::size_t size() const;

 private:
  static constexpr std::size_t kMaxEntries = 10'000;  // bounded: query strings are attacker-chosen
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> entries_;
  std::atomic<std::uint64_t> version_{0};
};

inline constexpr const char* kCatalogVersionKey = "event:catalog_version";
inline constexpr const char* kCatalogChannel = "event:catalog_changed";
inline constexpr const char* kSchedulerLease = "event-scheduler";

struct EventState {
  app::ServiceContext ctx;
  std::unique_ptr<EventStore> store;
  common::AuthenticatorPtr authenticator;
  ResponseCache cache;
  std::shared_ptr<coord::OutboxRelay> relay;
  ImageSettings image_settings;
  ImageStoragePtr images;

  // After every admin change: bump the shared version, drop local pages, tell other replicas.
  Task<void> invalidate();
  // Reads the shared version (start-up and the periodic safety net).
  Task<void> refresh_version();
};

}  // namespace tiketi::event

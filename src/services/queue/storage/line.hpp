#pragma once
// The waiting line of one event, kept in the coordination store only (Redis in the scaled shape),
// so any queue replica can serve any user and the line survives a replica restart.
//
// Keys (the "{event}" hash tag keeps one event's keys in one Redis Cluster slot):
//   <ns>queue:{E}:line      sorted set user -> join sequence (the order of the line)
//   <ns>queue:{E}:seq       counter that hands out join sequences
//   <ns>queue:{E}:seen      sorted set user -> last heartbeat (ms) of waiting users
//   <ns>queue:{E}:active    sorted set user -> shopper session expiry (ms)
//   <ns>queue:{E}:head      the sequence of the last admitted user ("now serving")
//   <ns>queue:{E}:fence     highest fencing token that ran an admission step
//   <ns>queue:{E}:opened    set once when the opening ran (and the pre-queue was shuffled)
//   <ns>queue:{E}:settings  QueueSettings JSON from the event service
//   <ns>queue:{E}:admin     AdminOverrides JSON
//   <ns>queue:{E}:ips       sorted set client IP -> places taken from it (only with a per-IP cap)
//   <ns>queue:{E}:renewals  sorted set user -> shopper-session renewals used (reset on admission)
//   <ns>queue:events        sorted set event id -> sale_start (events the admission loop drives)
// Every multi-step change is one Script (Lua on Redis, native in memory) so it is atomic.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coord/coordinator.hpp"
#include "services/queue/domain/settings.hpp"

namespace tiketi::queue {

enum class Place { waiting, admitted, absent, refused };

struct Standing {
  Place place = Place::absent;
  std::int64_t rank = 0;          // waiting: people ahead (0 = next)
  std::int64_t seq = 0;           // waiting: join sequence (changes once if shuffled at opening)
  Millis session_expires_at = 0;  // admitted
  bool joined_now = false;        // join: this call created the place
  std::int64_t active = -1;       // waiting: shopper sessions running now (-1 = not known)
};

struct Admitted {
  std::string user_id;
  std::int64_t seq = 0;
};

struct AdmitStep {
  bool fenced = false;             // a newer leader has run: this one must stop
  std::int64_t expired = 0;        // shopper sessions that ended (slots freed)
  std::int64_t head = 0;           // sequence of the last admitted user so far
  std::int64_t waiting = 0;        // line length after the step
  std::int64_t active = 0;         // live shopper sessions after the step
  std::vector<Admitted> admitted;  // in line order
};

class Line {
 public:
  // `ns` prefixes every key (tests share one Redis).
  explicit Line(coord::CoordinatorPtr coord, std::string ns = {});

  // Idempotent per user: an existing place (or shopper session) is kept. `direct` admits at once
  // when the line is empty and fewer than max_active sessions are live (mode auto). With
  // ip_cap > 0, a new place is refused (Place::refused) once `ip` has taken ip_cap places.
  Task<Standing> join(std::string event, std::string user, Millis now, bool direct, std::int64_t max_active,
                      Millis session_ms, std::string ip = {}, std::int64_t ip_cap = 0);
  // Extends a live shopper session to now + session_ms, at most max_renewals times per admission.
  struct Renewal {
    enum class Result { renewed, not_admitted, limit } result = Result::not_admitted;
    Millis expires_at = 0;
    std::int64_t used = 0;
  };
  Task<Renewal> renew(std::string event, std::string user, Millis now, Millis session_ms,
                      std::int64_t max_renewals);
  // Where the user stands; when waiting, also records a heartbeat.
  Task<Standing> status(std::string event, std::string user, Millis now);
  // Leaves the line or ends the shopper session; true when something was removed.
  Task<bool> leave(std::string event, std::string user);
  // One admission step: drops ended sessions, then moves up to min(n, max_active - active) users
  // from the head of the line into the active set. Refused (fenced) for a stale leader.
  Task<AdmitStep> admit(std::string event, Millis now, std::int64_t n, std::int64_t max_active,
                        Millis session_ms, std::int64_t fencing_token);
  // Removes waiting users whose last heartbeat is at or before `cutoff`; returns how many.
  Task<std::int64_t> sweep_abandoned(std::string event, Millis cutoff, std::int64_t limit = 1'000);
  // The opening, once: with `shuffle`, everyone waiting gets a random permutation of the waiting
  // sequences (CSPRNG). False when it already ran.
  Task<bool> open(std::string event, bool shuffle);
  Task<bool> opened(std::string event);

  Task<std::int64_t> waiting(std::string event);
  Task<std::int64_t> active(std::string event, Millis now);
  Task<std::int64_t> head(std::string event);

  // Settings and admin overrides. settings() is cached per process for kSettingsCacheMs (every
  // join and status needs them; two Redis round trips saved per request); this Line's own writes
  // invalidate it at once, another replica's are seen within that time.
  static constexpr Millis kSettingsCacheMs = 250;
  Task<std::optional<QueueSettings>> settings(std::string event);  // with overrides applied
  Task<std::optional<QueueSettings>> raw_settings(std::string event);
  Task<void> put_settings(QueueSettings s);
  Task<AdminOverrides> overrides(std::string event);
  Task<void> put_overrides(std::string event, AdminOverrides o);
  Task<std::vector<std::string>> events();

  std::string key(const std::string& event, std::string_view what) const;
  coord::Coordinator& coordinator() { return *coord_; }

 private:
  coord::CoordinatorPtr coord_;
  std::string ns_;
  struct Cache;
  std::shared_ptr<Cache> cache_;
};

}  // namespace tiketi::queue

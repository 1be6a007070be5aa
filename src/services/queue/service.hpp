#pragma once
// The queue service: the virtual waiting room. The line lives in the coordination store only.
//
// Public (login required): POST/GET/DELETE /api/v1/events/{id}/queue (join / status+heartbeat /
// leave), GET /api/v1/events/{id}/queue/ws (WebSocket), GET /api/v1/events/{id}/queue/stream (SSE).
// Admin: GET/PATCH /api/v1/admin/queues/{eventId}, POST …/pause, POST …/resume,
// DELETE …/users/{userId}. Settings arrive as event.published / event.status_changed.
#include "app/service.hpp"

namespace tiketi::app {
ServicePtr make_queue_service();
}  // namespace tiketi::app

namespace tiketi::queue {
struct State;
class Admitter;
// The started state of a service made by make_queue_service() (tests), or nullptr.
State* state_of(app::Service& service);
Admitter* admitter_of(app::Service& service);
// Handles what the event consumer can read now (tests); returns events handled.
Task<int> consume_once(app::Service& service);
}  // namespace tiketi::queue

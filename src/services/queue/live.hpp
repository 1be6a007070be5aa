#pragma once
// Live position for waiting users: WebSocket (GET …/queue/ws) and SSE (GET …/queue/stream).
//
// One room per event per replica, created when its first live client connects: the room subscribes
// to the pub/sub channel "queue:<event>" and, for each tick message, sends ONE shared broadcast to
// every local socket of the room (one buffer, no per-user Redis round trip, no copy per socket;
// handed out 512 sockets per executor step so the writes in flight stay bounded), plus a personal
// "admitted" message (with the admission token) to the sockets of the users that tick admitted.
// Per idle socket the queue keeps one small Socket record (user, room, heartbeat gap) and a
// 224-byte handler frame; the upgrade request's target/headers/query are released once the
// socket is in its room. Protocol (docs/admission-token.md has the token):
//   server -> client  {"type":"status", …standing…}   on connect and in reply to a heartbeat (exact)
//                     {"type":"tick","head":H,"count":k,"waiting":W,"active":A,"rate":r,"paused":b,
//                      "reshuffled":b,"ts":ms}       shared, at most once per queue.broadcast_ms
//                                                    (default 1 s; k = admissions since the previous
//                                                    tick message, ts = the latest tick's time)
//                     {"type":"admitted",…standing…}  personal, once
//                     {"type":"error","code":…}
//   client -> server  {"type":"auth","token":JWT}     first message when no access_token query param
//                     {"type":"heartbeat"}            every ~20 s (keeps the place; answered by status)
// Client-side position between exact answers: peopleAhead = max(0, min(peopleAhead - count,
// seq - head - 1)) — every admitted user was ahead of a waiting one; a "reshuffled" tick means
// "send a heartbeat to learn your new seq".
#include <memory>
#include <string>

#include "net/http.hpp"
#include "services/queue/state.hpp"

namespace tiketi::queue {

class Live {
 public:
  explicit Live(State& state);
  ~Live();
  Task<void> serve_websocket(net::Request& req, net::WebSocketPtr ws);
  // The SSE body for one user (already authenticated) of one event.
  Task<void> serve_stream(net::ResponseStream& out, std::string event, std::string user);
  // Handles one tick message as if it came from pub/sub (tests).
  void on_tick_message(const std::string& event, const std::string& message);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tiketi::queue

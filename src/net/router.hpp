#pragma once
// Method + path-template routing: "/api/v1/events/{id}/queue". Static segments beat parameters;
// unknown path -> 404, known path with another method -> 405 (with Allow).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"

namespace tiketi::net {

struct RouteOptions {
  std::string service;        // owner, for metrics and logs
  std::size_t max_body = 0;   // 0 -> server default
  bool websocket = false;     // route accepts an Upgrade: websocket request
};

struct Route {
  std::string method;
  std::string templ;
  Handler handler;      // set for plain routes
  WsHandler ws_handler; // set for websocket routes
  RouteOptions options;
};

struct Match {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  bool path_known = false;          // true when some method matches the path (for 405)
  std::vector<std::string> allowed; // methods allowed on that path
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  void add(std::string method, std::string templ, Handler h, RouteOptions opts = {});
  void add_ws(std::string templ, WsHandler h, RouteOptions opts = {});
  // Throws std::logic_error on a duplicate (method, template).
  Match match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tiketi::net

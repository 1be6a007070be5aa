#include "net/router.hpp"

#include <array>
#include <stdexcept>
#include <unordered_map>

namespace tiketi::net {

namespace {

// Path segments without empty pieces: "/a//b/" -> {"a","b"}. Small paths stay on the stack.
class Segments {
 public:
  explicit Segments(std::string_view path) {
    std::size_t i = 0;
    while (i < path.size()) {
      while (i < path.size() && path[i] == '/') {
        ++i;
      }
      if (i >= path.size()) {
        break;
      }
      std::size_t j = path.find('/', i);
      if (j == std::string_view::npos) {
        j = path.size();
      }
      push(path.substr(i, j - i));
      i = j;
    }
  }
  std::size_t size() const { return count_; }
  std::string_view operator[](std::size_t i) const {
    return i < kInline ? inline_[i] : overflow_[i - kInline];
  }

 private:
  static constexpr std::size_t kInline = 16;
  void push(std::string_view s) {
    if (count_ < kInline) {
      inline_[count_] = s;
    } else {
      overflow_.push_back(s);
    }
    ++count_;
  }
  std::array<std::string_view, kInline> inline_{};
  std::vector<std::string_view> overflow_;
  std::size_t count_ = 0;
};

bool is_param(std::string_view seg) { return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}'; }

struct Node {
  // Few children per node in practice: a flat vector beats a hash map here.
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> statics;
  std::unique_ptr<Node> param;
  std::vector<std::pair<std::string, std::size_t>> methods;  // method -> index into routes

  Node* find_static(std::string_view seg) const {
    for (const auto& [name, child] : statics) {
      if (name == seg) {
        return child.get();
      }
    }
    return nullptr;
  }
  const std::size_t* find_method(std::string_view m) const {
    for (const auto& [name, idx] : methods) {
      if (name == m) {
        return &idx;
      }
    }
    return nullptr;
  }
};

}  // namespace

struct Router::Impl {
  std::vector<Route> routes;
  std::vector<std::vector<std::string>> param_names;  // per route, in path order
  Node root;

  void add(Route r) {
    Segments segs(r.templ);
    Node* node = &root;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < segs.size(); ++i) {
      std::string_view seg = segs[i];
      if (is_param(seg)) {
        names.emplace_back(seg.substr(1, seg.size() - 2));
        if (!node->param) {
          node->param = std::make_unique<Node>();
        }
        node = node->param.get();
      } else {
        Node* next = node->find_static(seg);
        if (next == nullptr) {
          node->statics.emplace_back(std::string(seg), std::make_unique<Node>());
          next = node->statics.back().second.get();
        }
        node = next;
      }
    }
    if (node->find_method(r.method) != nullptr) {
      throw std::logic_error("duplicate route " + r.method + " " + r.templ);
    }
    node->methods.emplace_back(r.method, routes.size());
    routes.push_back(std::move(r));
    param_names.push_back(std::move(names));
  }

  // Depth-first, static before parameter. With `method` empty, any node that has routes matches
  // (used to tell 405 from 404). `values` collects the parameter segments on the way.
  const Node* find(const Node* node, const Segments& segs, std::size_t i, std::string_view method,
                   std::vector<std::string_view>& values) const {
    if (i == segs.size()) {
      if (method.empty() ? !node->methods.empty() : node->find_method(method) != nullptr) {
        return node;
      }
      return nullptr;
    }
    if (const Node* s = node->find_static(segs[i])) {
      if (const Node* hit = find(s, segs, i + 1, method, values)) {
        return hit;
      }
    }
    if (node->param) {
      values.push_back(segs[i]);
      if (const Node* hit = find(node->param.get(), segs, i + 1, method, values)) {
        return hit;
      }
      values.pop_back();
    }
    return nullptr;
  }
};

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(std::string method, std::string templ, Handler h, RouteOptions opts) {
  Route r;
  r.method = std::move(method);
  r.templ = std::move(templ);
  r.handler = std::move(h);
  r.options = std::move(opts);
  impl_->add(std::move(r));
}

void Router::add_ws(std::string templ, WsHandler h, RouteOptions opts) {
  Route r;
  r.method = "GET";
  r.templ = std::move(templ);
  r.ws_handler = std::move(h);
  opts.websocket = true;
  r.options = std::move(opts);
  impl_->add(std::move(r));
}

Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  Segments segs(path);
  std::vector<std::string_view> values;
  const Node* node = impl_->find(&impl_->root, segs, 0, method, values);
  if (node == nullptr && method == "HEAD") {
    // HEAD is served by the GET route unless one is registered for it.
    values.clear();
    node = impl_->find(&impl_->root, segs, 0, "GET", values);
    method = "GET";
  }
  if (node != nullptr) {
    std::size_t idx = *node->find_method(method);
    m.route = &impl_->routes[idx];
    m.path_known = true;
    const auto& names = impl_->param_names[idx];
    m.params.reserve(names.size());
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
      m.params.emplace_back(names[i], std::string(values[i]));
    }
    return m;
  }
  values.clear();
  node = impl_->find(&impl_->root, segs, 0, {}, values);
  if (node != nullptr) {
    m.path_known = true;
    for (const auto& [name, idx] : node->methods) {
      m.allowed.push_back(name);
    }
  }
  return m;
}

const std::vector<Route>& Router::routes() const { return impl_->routes; }

}  // namespace tiketi::net

#include "coord/coordinator.hpp"

#include <stdexcept>

namespace tiketi::coord {

std::optional<std::string> StreamEntry::field(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) {
      return v;
    }
  }
  return std::nullopt;
}

std::int64_t Reply::integer() const {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    return *i;
  }
  // Lua numbers can come back as strings from a native script written loosely; accept them.
  if (const auto* s = std::get_if<std::string>(&v)) {
    return std::stoll(*s);
  }
  throw std::runtime_error("reply is not an integer");
}

const std::string& Reply::string() const {
  if (const auto* s = std::get_if<std::string>(&v)) {
    return *s;
  }
  throw std::runtime_error("reply is not a string");
}

const ReplyArray& Reply::array() const {
  if (const auto* a = std::get_if<ReplyArray>(&v)) {
    return *a;
  }
  throw std::runtime_error("reply is not an array");
}

Task<CoordinatorPtr> open(Executor ex, const std::string& url) {
  if (url.empty() || url == "memory" || url == "memory://") {
    co_return make_memory_coordinator(std::move(ex));
  }
  if (url.rfind("redis://", 0) == 0) {
    // Named locals, not temporaries: g++ 12 destroys temporaries of a co_await expression twice
    // when the awaited coroutine throws.
    RedisOptions opts;
    opts.url = url;
    CoordinatorPtr c = co_await open_redis(ex, std::move(opts));
    co_return c;
  }
  throw std::invalid_argument("coordination url must be empty or redis://host:port[/db]: " + url);
}

}  // namespace tiketi::coord

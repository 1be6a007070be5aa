#pragma once
// The one coroutine type every port uses. Only <boost/asio/awaitable.hpp> is included here:
// Beast, sockets and libpq/hiredis stay in the few translation units that implement the ports.
#include <utility>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace tiketi {

template <class T = void>
using Task = boost::asio::awaitable<T>;

using Executor = boost::asio::any_io_executor;

}  // namespace tiketi

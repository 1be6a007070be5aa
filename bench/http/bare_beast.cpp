// The baseline for bench/http/run.sh: the smallest reasonable Boost.Beast server — one io_context per
// thread with an SO_REUSEPORT acceptor each, keep-alive, C++20 coroutines, a fixed JSON body, no
// router, middleware, metrics or logging. What tiketi adds on top of this is what the benchmark is
// meant to show, measured in the same run on the same machine.
//
//   tiketi_bare_beast PORT [THREADS]
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

const std::string kBody = R"({"status":"live"})";

asio::awaitable<void> session(tcp::socket socket) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    co_await http::async_read(socket, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      break;
    }
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = kBody;
    res.prepare_payload();
    co_await http::async_write(socket, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !res.keep_alive()) {
      break;
    }
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> listen(tcp::acceptor acceptor) {
  for (;;) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  const int threads = argc > 2 ? std::atoi(argv[2]) : static_cast<int>(std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::thread> workers;
  const tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), port};
  for (int i = 0; i < threads; ++i) {
    auto& ioc = *contexts.emplace_back(std::make_unique<asio::io_context>(1));
    tcp::acceptor acceptor(ioc);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor.bind(ep);
    acceptor.listen(4096);
    asio::co_spawn(ioc, listen(std::move(acceptor)), asio::detached);
  }
  for (auto& ioc : contexts) {
    workers.emplace_back([&ioc] { ioc->run(); });
  }
  for (auto& w : workers) {
    w.join();
  }
}

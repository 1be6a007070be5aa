// Storage + handlers against SQLite (temp dir) and, when TIKETI_TEST_POSTGRES_URL is set, PostgreSQL.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/testing/servers.hpp"
#include "net/middleware.hpp"
#include "net/router.hpp"
#include "services/event/scheduler.hpp"
#include "services/event/service.hpp"
#include "services/event/state.hpp"

namespace tiketi::event {
namespace {
namespace asio = boost::asio;
using nlohmann::json;

constexpr Millis kOneHour = 3'600'000;

std::string png_bytes(std::size_t padding = 0) {
  std::string s("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00", 29);
  return s + std::string(padding, '\x07');
}

std::string multipart(const std::string& filename, const std::string& data, const std::string& boundary = "tk-b0undary") {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
         "\"\r\nContent-Type: image/png\r\n\r\n" + data + "\r\n--" + boundary + "--\r\n";
}

net::Headers multipart_headers(const std::string& boundary = "tk-b0undary") {
  return {{"Content-Type", "multipart/form-data; boundary=" + boundary}};
}

std::size_t files_in(const std::filesystem::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::recursive_directory_iterator(); ++it) {
    n += it->is_regular_file() ? 1 : 0;
  }
  return n;
}

class EventServiceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tiketi-event-" + ids::random_hex(6));
    std::filesystem::create_directories(dir_);
    if (GetParam() == "sqlite") {
      url_ = "sqlite:" + dir_.string();
    } else {
      TIKETI_POSTGRES_URL_OR_SKIP(pg);
      url_ = pg;
    }
    clock_ = std::make_shared<ManualClock>(1'750'000'000'000);
    run([&]() -> Task<void> {
      store::OpenOptions o;
      o.url = url_;
      // A fresh schema per test on PostgreSQL so runs never see each other's rows.
      o.schema = GetParam() == "sqlite" ? "event" : "event_t" + ids::random_hex(4);
      o.pool_size = 2;
      db_ = co_await store::open(ioc_.get_executor(), o);
      co_await store::migrate(*db_, service_->migrations());
    });
    coord_ = coord::make_memory_coordinator(ioc_.get_executor(), {clock_});
    service_->routes(router_);
    config_.data_dir = dir_.string();
    config_.extra["auth.jwt_secret"] = "event-service-test-secret-0123456789abcdef";
    config_.extra["event.image_max_bytes"] = std::to_string(kImageLimit);
    ctx_.config = &config_;
    ctx_.db = db_;
    ctx_.coord = coord_;
    ctx_.clock = clock_;
    ctx_.executor = bg_.get_executor();  // background jobs are parked: tests drive them by hand
    ctx_.log = LogContext{"event", {}, {}, {}};
    ctx_.instance_id = "test";
    run([&]() -> Task<void> { co_await service_->start(ctx_); });
    state_.ctx = ctx_;
    state_.store = std::make_unique<EventStore>(db_, clock_);
    state_.image_settings = image_settings_from(&config_);
  }

  void TearDown() override {
    if (db_) {
      run([&]() -> Task<void> { co_await service_->stop(); });
      db_->close();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  template <class F>
  void run(F f) {
    auto fut = asio::co_spawn(ioc_, f(), asio::use_future);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ioc_.run_one();
    }
    fut.get();
  }

  net::Response call(std::string method, std::string target, std::string body = {},
                     std::string role = "admin", net::Headers headers = {}) {
    net::Request req;
    req.method = method;
    req.target = target;
    net::parse_target(target, req.path, req.query);
    req.body = std::move(body);
    req.headers = std::move(headers);
    if (!role.empty()) {
      req.principal = net::Principal{"u-admin", role, "t"};
    }
    auto m = router_.match(method, req.path);
    if (m.route == nullptr) {
      ADD_FAILURE() << "no route " << method << " " << req.path;
      return {};
    }
    req.params = m.params;
    net::Response res;
    run([&]() -> Task<void> {
      try {
        res = co_await m.route->handler(req);
      } catch (const std::exception& e) {
        res = net::error_response(e, req.log);
      }
    });
    return res;
  }

  static json body(const net::Response& r) { return json::parse(r.body); }
  static std::string code(const net::Response& r) { return body(r)["error"]["code"].get<std::string>(); }

  std::int64_t count(const std::string& sql) {
    std::int64_t n = 0;
    run([&]() -> Task<void> { n = (co_await db_->exec(sql)).one().i64(0); });
    return n;
  }

  std::string make_event(Millis perf_offset = 48 * kOneHour, const std::string& title = "IU Concert 아이유") {
    const Millis now = clock_->now_ms();
    json e{{"title", title},
           {"category", "concert"},
           {"artist", "IU"},
           {"venue_id", venue_id_},
           {"sale_start", now + kOneHour},
           {"sale_end", now + 24 * kOneHour},
           {"performance_start", now + perf_offset},
           {"performance_end", now + perf_offset + 3 * kOneHour},
           {"per_user_limit", 4},
           {"waiting_room", {{"enabled", true}, {"admission_per_minute", 300}}}};
    auto r = call("POST", "/api/v1/admin/events", e.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return body(r)["id"].get<std::string>();
  }

  void make_venue() {
    auto r = call("POST", "/api/v1/admin/venues", R"({"name":"Olympic Hall","city":"Seoul"})");
    ASSERT_EQ(r.status, 201) << r.body;
    venue_id_ = body(r)["id"].get<std::string>();
  }

  void make_ready_to_publish(const std::string& id) {
    json plan{{"categories", {{{"code", "VIP"}, {"name", "VIP"}}, {{"code", "R"}, {"name", "R"}}}},
              {"sections",
               {{{"code", "A"},
                 {"rows", 10},
                 {"seats_per_row", 100},
                 {"categories",
                  {{{"from_row", 1}, {"to_row", 2}, {"category", "VIP"}},
                   {{"from_row", 3}, {"to_row", 10}, {"category", "R"}}}}},
                {{"code", "B"},
                 {"rows", 10},
                 {"seats_per_row", 100},
                 {"x", 1200},
                 {"categories", {{{"from_row", 1}, {"to_row", 10}, {"category", "R"}}}}}}}};
    auto r = call("PUT", "/api/v1/admin/events/" + id + "/seating", plan.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body(r)["seat_count"], 2000);
    r = call("POST", "/api/v1/admin/events/" + id + "/ticket-types",
             R"({"name":"VIP석","kind":"seated","category":"VIP","price":165000})");
    ASSERT_EQ(r.status, 201) << r.body;
    r = call("POST", "/api/v1/admin/events/" + id + "/ticket-types",
             R"({"name":"R석","kind":"seated","category":"R","price":132000,"sort_order":1})");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  static constexpr std::size_t kImageLimit = 4096;
  Config config_;
  asio::io_context ioc_;
  // Keeps run_one() waiting for completions posted from the adapters' threads.
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  asio::io_context bg_;
  std::filesystem::path dir_;
  std::string url_;
  std::shared_ptr<ManualClock> clock_;
  store::DatabasePtr db_;
  coord::CoordinatorPtr coord_;
  app::ServicePtr service_ = app::make_event_service();
  net::Router router_;
  app::ServiceContext ctx_;
  EventState state_;
  std::string venue_id_;
};

TEST_P(EventServiceTest, CreatePublishAndReadBack) {
  make_venue();
  auto id = make_event();
  make_ready_to_publish(id);
  // Drafts are invisible to the public.
  EXPECT_EQ(call("GET", "/api/v1/events/" + id, "", "").status, 404);

  auto r = call("POST", "/api/v1/admin/events/" + id + "/publish");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["status"], "scheduled");
  EXPECT_EQ(call("POST", "/api/v1/admin/events/" + id + "/publish").status, 409);

  r = call("GET", "/api/v1/events/" + id, "", "");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = body(r);
  EXPECT_EQ(j["price"]["min"], 132000);
  EXPECT_EQ(j["price"]["max"], 165000);
  EXPECT_EQ(j["ticket_types"].size(), 2u);
  EXPECT_EQ(j["waiting_room"]["admission_per_minute"], 300);

  r = call("GET", "/api/v1/events/" + id + "/seating", "", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["seats"].size(), 2000u);
  EXPECT_EQ(body(r)["seats"][0][0], "A-1-1");

  // Exactly one event.published with the full inventory.
  ASSERT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'event.published'"), 1);
  std::string payload;
  run([&]() -> Task<void> { payload = (co_await db_->exec("SELECT payload FROM outbox")).one().str(0); });
  auto p = json::parse(payload);
  EXPECT_EQ(p["event_id"], id);
  EXPECT_EQ(p["seats"].size(), 2000u);
  EXPECT_EQ(p["per_user_limit"], 4);
  EXPECT_EQ(p["waiting_room"]["enabled"], true);
  EXPECT_FALSE(p["seats"][0]["ticket_type_id"].get<std::string>().empty());

  // After publish: presentation may change, inventory may not.
  EXPECT_EQ(call("PATCH", "/api/v1/admin/events/" + id, R"j({"title":"IU Concert (Day 1)"})j").status, 200);
  r = call("PATCH", "/api/v1/admin/events/" + id, json{{"sale_end", clock_->now_ms() + 30 * kOneHour}}.dump());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(code(r), "inventory_locked");
  EXPECT_EQ(
      code(call("PUT", "/api/v1/admin/events/" + id + "/seating", R"({"categories":[],"sections":[]})")),
      "inventory_locked");
  EXPECT_EQ(call("POST", "/api/v1/admin/events/" + id + "/ticket-types",
                 R"({"name":"S","kind":"seated","category":"R","price":1})")
                .status,
            409);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/events/" + id).status, 409);
}

TEST_P(EventServiceTest, PublishedEventIsConsumedExactlyOnce) {
  make_venue();
  auto id = make_event();
  make_ready_to_publish(id);
  ASSERT_EQ(call("POST", "/api/v1/admin/events/" + id + "/publish").status, 200);
  coord::OutboxRelay relay(db_, coord_, clock_, ctx_.log);
  coord::Consumer consumer(db_, coord_, "reservation-test", "c1", ctx_.log);
  int seen = 0;
  consumer.on("event.published", [&](store::Tx&, const coord::Event& ev) -> Task<void> {
    EXPECT_EQ(ev.key, id);
    ++seen;
    co_return;
  });
  run([&]() -> Task<void> {
    co_await relay.publish_pending();
    co_await relay.publish_pending();  // nothing left: never published twice
    co_await consumer.poll_once();
    co_await consumer.poll_once();
  });
  EXPECT_EQ(seen, 1);
}

TEST_P(EventServiceTest, BadInputIsRefusedAndNothingIsStored) {
  make_venue();
  auto r = call("POST", "/api/v1/admin/events", R"({"title":"x","categroy":"concert"})");
  EXPECT_EQ(r.status, 400);
  const Millis now = clock_->now_ms();
  json e{{"title", "Backwards"},
         {"category", "concert"},
         {"sale_start", now + 2 * kOneHour},
         {"sale_end", now + kOneHour},
         {"performance_start", now + 3 * kOneHour},
         {"performance_end", now + 4 * kOneHour}};
  r = call("POST", "/api/v1/admin/events", e.dump());
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(body(r)["error"]["fields"][0]["field"], "sale_end");
  EXPECT_EQ(call("POST", "/api/v1/admin/events", "not json").status, 400);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);

  auto id = make_event();
  r = call("POST", "/api/v1/admin/events/" + id + "/ticket-types",
           R"({"name":"R","kind":"seated","category":"R","price":-1})");
  EXPECT_EQ(r.status, 400);
  r = call("POST", "/api/v1/admin/events/" + id + "/ticket-types",
           R"({"name":"R","kind":"seated","category":"R","price":1.5})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(count("SELECT COUNT(*) FROM ticket_types"), 0);

  r = call(
      "PUT", "/api/v1/admin/events/" + id + "/seating",
      R"({"categories":[{"code":"R"}],"sections":[{"code":"A","rows":500,"seats_per_row":1000,"categories":[{"from_row":1,"to_row":500,"category":"R"}]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code(r), "seating_plan_too_large");
  EXPECT_EQ(count("SELECT COUNT(*) FROM seats"), 0);

  EXPECT_EQ(call("GET", "/api/v1/events?limit=101", "", "").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/events?cursor=garbage", "", "").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/admin/news", R"({"title":"t","body":"b"})", "user").status, 403);
  EXPECT_EQ(call("POST", "/api/v1/admin/news", R"({"title":"t","body":"b"})", "").status, 401);
  EXPECT_EQ(count("SELECT COUNT(*) FROM news"), 0);
}

TEST_P(EventServiceTest, ListFiltersAndStablePagination) {
  make_venue();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(make_event((48 + i) * kOneHour, i == 2 ? std::string("BTS World Tour 방탄")
                                                      : std::string("Show ").append(std::to_string(i))));
  }
  // Keyword search in Korean and English (case-insensitive for ASCII), LIKE wildcards escaped.
  auto r = call("GET", "/api/v1/admin/events?q=%EB%B0%A9%ED%83%84");  // 방탄
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(body(r)["items"].size(), 1u);
  EXPECT_EQ(body(r)["items"][0]["id"], ids[2]);
  EXPECT_EQ(body(r = call("GET", "/api/v1/admin/events?q=bts"))["items"].size(), 1u);
  EXPECT_EQ(body(call("GET", "/api/v1/admin/events?q=%25"))["items"].size(), 0u);

  // Page through 2 at a time while new events appear before and after the cursor.
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    r = call("GET", "/api/v1/admin/events?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto page = body(r);  // a named value: the range-for must not iterate a dead temporary
    for (const auto& it : page["items"]) {
      EXPECT_TRUE(seen.insert(it["id"].get<std::string>()).second) << "duplicate across pages";
    }
    if (pages == 0) {
      make_event(1 * kOneHour + 30 * 60'000 + kOneHour);  // sorts before the cursor: must not shift later pages
    }
    auto next = body(r)["next_cursor"];
    cursor = next.is_null() ? "" : next.get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  for (const auto& id : ids) {
    EXPECT_TRUE(seen.count(id)) << id;
  }
}

TEST_P(EventServiceTest, PublicCacheHasEtagsAndIsInvalidatedByAdminChanges) {
  auto r = call("POST", "/api/v1/admin/news", R"({"title":"첫 소식","body":"hello"})");
  ASSERT_EQ(r.status, 201);
  auto a = call("GET", "/api/v1/news", "", "");
  ASSERT_EQ(a.status, 200);
  auto etag = net::find_header(a.headers, "etag");
  ASSERT_TRUE(etag);
  auto b = call("GET", "/api/v1/news", "", "", {{"If-None-Match", std::string(*etag)}});
  EXPECT_EQ(b.status, 304);
  EXPECT_TRUE(b.body.empty());
  ASSERT_EQ(call("POST", "/api/v1/admin/news", R"({"title":"둘째 소식","body":"x"})").status, 201);
  auto c = call("GET", "/api/v1/news", "", "", {{"If-None-Match", std::string(*etag)}});
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(body(c)["items"].size(), 2u);
  // Another replica's change arrives as a version bump through the coordinator.
  auto etag2 = std::string(*net::find_header(c.headers, "etag"));
  run([&]() -> Task<void> { co_await state_.invalidate(); });
  auto d = call("GET", "/api/v1/news", "", "", {{"If-None-Match", etag2}});
  EXPECT_EQ(d.status, 200);
}

TEST_P(EventServiceTest, StatusAutomationRunsOnceAcrossTwoReplicas) {
  make_venue();
  auto id = make_event();
  make_ready_to_publish(id);
  ASSERT_EQ(call("POST", "/api/v1/admin/events/" + id + "/publish").status, 200);
  Scheduler a(state_, "replica-a");
  Scheduler b(state_, "replica-b");
  int applied = 0;
  run([&]() -> Task<void> { applied = co_await a.tick() + co_await b.tick(); });
  EXPECT_EQ(applied, 0);   // nothing due yet
  clock_->advance(kOneHour);  // sale starts
  run([&]() -> Task<void> { applied = co_await b.tick() + co_await a.tick(); });
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(body(call("GET", "/api/v1/events/" + id, "", ""))["status"], "on_sale");
  clock_->advance(100 * kOneHour);  // long after the performance: catches up in one step
  run([&]() -> Task<void> { applied = co_await a.tick() + co_await b.tick(); });
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(body(call("GET", "/api/v1/events/" + id, "", ""))["status"], "ended");
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'event.status_changed'"), 2);
}

TEST_P(EventServiceTest, SeedDemoIsIdempotent) {
  SeedResult first, second;
  run([&]() -> Task<void> {
    first = co_await seed_demo(*db_, *clock_);
    second = co_await seed_demo(*db_, *clock_);
  });
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(count("SELECT COUNT(*) FROM seats WHERE event_id = 'demo-event-live'"), 2000);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'event.published'"), 3);
  auto r = call("GET", "/api/v1/events?status=on_sale", "", "");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(body(r)["items"].size(), 1u);
  EXPECT_EQ(body(r)["items"][0]["waiting_room"]["enabled"], true);
}

TEST_P(EventServiceTest, ImageUploadIsStoredByMagicBytesAndServed) {
  const std::string data = png_bytes(500);
  auto r = call("POST", "/api/v1/admin/images", multipart("poster.jpg", data), "admin", multipart_headers());
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = body(r);
  EXPECT_EQ(j["contentType"], "image/png");  // the bytes decide, not the ".jpg" name
  EXPECT_EQ(j["size"], data.size());
  const std::string id = j["id"].get<std::string>();
  const std::string url = j["url"].get<std::string>();
  ASSERT_EQ(url, "/api/v1/images/" + id + ".png");
  const std::string key = id + ".png";
  // On disk under <data-dir>/images with the generated key, never the client's name.
  EXPECT_TRUE(std::filesystem::exists(dir_ / "images" / key));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "images" / "poster.jpg"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM images"), 1);

  auto g = call("GET", url, "", "");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(g.body, data);
  EXPECT_EQ(net::find_header(g.headers, "content-type").value_or(""), "image/png");
  EXPECT_NE(net::find_header(g.headers, "cache-control").value_or("").find("max-age=31536000"), std::string::npos);
  auto etag = std::string(net::find_header(g.headers, "etag").value_or(""));
  EXPECT_EQ(call("GET", url, "", "", {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(call("GET", "/api/v1/images/0123456789abcdef0123456789abcdef.png", "", "").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/images/..png", "", "").status, 404);

  // Events reference uploaded images by id and get their URLs; unknown ids are refused.
  make_venue();
  auto ev = make_event();
  r = call("PATCH", "/api/v1/admin/events/" + ev, json{{"image_ids", {id}}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(body(r)["images"].size(), 1u);
  EXPECT_EQ(body(r)["images"][0]["url"], url);
  r = call("PATCH", "/api/v1/admin/events/" + ev, json{{"image_ids", {"feedfacefeedfacefeedfacefeedface"}}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  r = call("GET", "/api/v1/admin/events", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["items"][0]["images"][0]["url"], url);
}

TEST_P(EventServiceTest, BadUploadsAreRefusedAndNothingIsStored) {
  struct Case {
    std::string name;
    std::string body;
    net::Headers headers;
    int status;
    std::string code;
  };
  const std::string ok_body = multipart("a.png", png_bytes(10));
  std::vector<Case> cases{
      {"text renamed .png", multipart("cat.png", "just some text, honestly\n"), multipart_headers(), 415,
       "unsupported_image_type"},
      {"svg", multipart("x.png", "<svg xmlns='http://www.w3.org/2000/svg'/>"), multipart_headers(), 415,
       "unsupported_image_type"},
      {"truncated", ok_body.substr(0, ok_body.size() - 10), multipart_headers(), 400, "invalid_multipart"},
      {"missing boundary", ok_body, {{"Content-Type", "multipart/form-data"}}, 400, "invalid_multipart"},
      {"wrong boundary", ok_body, multipart_headers("other"), 400, "invalid_multipart"},
      {"not multipart", png_bytes(10), {{"Content-Type", "image/png"}}, 415, "unsupported_media_type"},
      {"no content type", ok_body, {}, 415, "unsupported_media_type"},
      {"oversize", multipart("big.png", png_bytes(kImageLimit)), multipart_headers(), 413, "payload_too_large"},
      {"traversal", multipart("../../../etc/passwd.png", png_bytes(10)), multipart_headers(), 400, "invalid_file_name"},
      {"windows traversal", multipart("..\\..\\boot.png", png_bytes(10)), multipart_headers(), 400,
       "invalid_file_name"},
      {"absolute", multipart("/var/lib/x.png", png_bytes(10)), multipart_headers(), 400, "invalid_file_name"},
      {"encoded traversal", multipart("..%2F..%2Fx.png", png_bytes(10)), multipart_headers(), 400,
       "invalid_file_name"},
      {"empty file", multipart("a.png", ""), multipart_headers(), 400, "empty_file"},
  };
  for (const auto& c : cases) {
    auto r = call("POST", "/api/v1/admin/images", c.body, "admin", c.headers);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_EQ(code(r), c.code) << c.name;
  }
  EXPECT_EQ(call("POST", "/api/v1/admin/images", ok_body, "user", multipart_headers()).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/admin/images", ok_body, "", multipart_headers()).status, 401);
  EXPECT_EQ(count("SELECT COUNT(*) FROM images"), 0);
  EXPECT_EQ(files_in(dir_ / "images"), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "etc"));
  // The same body with a clean name goes through: the refusals above were about the input.
  EXPECT_EQ(call("POST", "/api/v1/admin/images", ok_body, "admin", multipart_headers()).status, 201);
  EXPECT_EQ(files_in(dir_ / "images"), 1u);
}

TEST_P(EventServiceTest, SoldOutClosesTheSaleOnceAndStaysClosed) {
  make_venue();
  auto id = make_event();
  make_ready_to_publish(id);
  auto other = make_event(50 * kOneHour, "Another show");
  make_ready_to_publish(other);
  ASSERT_EQ(call("POST", "/api/v1/admin/events/" + id + "/publish").status, 200);
  ASSERT_EQ(call("POST", "/api/v1/admin/events/" + other + "/publish").status, 200);
  Scheduler sched(state_, "replica-a");
  clock_->advance(kOneHour);  // both on sale
  int applied = 0;
  run([&]() -> Task<void> { applied = co_await sched.tick(); });
  ASSERT_EQ(applied, 2);
  const auto before = count("SELECT COUNT(*) FROM outbox WHERE topic = 'event.status_changed'");

  auto publish = [&](const std::string& ev_id, const std::string& payload) {
    std::vector<std::pair<std::string, std::string>> fields{{"id", ev_id},
                                                           {"topic", "inventory.sold_out"},
                                                           {"key", id},
                                                           {"payload", payload},
                                                           {"created_at", std::to_string(clock_->now_ms())},
                                                           {"trace_id", ""}};
    run([&]() -> Task<void> { co_await coord_->xadd("events:inventory.sold_out", fields); });
  };
  const std::string payload =
      json{{"schema_version", 1}, {"event_id", id}, {"sold_out_at", clock_->now_ms()}}.dump();
  publish("so-1", payload);
  publish("so-1", payload);  // redelivery of the same event id
  publish("so-2", payload);  // a second report for the same event (another replica)
  publish("so-bad", "{not json");
  int handled = 0;
  run([&]() -> Task<void> { handled = co_await consume_once(*service_); });
  EXPECT_EQ(handled, 4);
  EXPECT_EQ(count("SELECT COUNT(*) FROM processed_events WHERE consumer_group = 'event'"), 3);

  auto r = call("GET", "/api/v1/admin/events/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["status"], "closed");
  EXPECT_EQ(body(r)["sold_out"], true);
  EXPECT_EQ(body(call("GET", "/api/v1/admin/events/" + other))["status"], "on_sale");  // untouched
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'event.status_changed'"), before + 1);
  std::string last;
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'event.status_changed' AND key = '" + id +
                  "' AND payload LIKE '%\"to\":\"closed\"%'"),
            1);
  run([&]() -> Task<void> {
    store::Params params;
    params.push_back(store::p(id));
    last = (co_await db_->exec("SELECT payload FROM outbox WHERE topic = 'event.status_changed' AND key = $1 "
                               "AND payload LIKE '%closed%'",
                               std::move(params)))
               .one()
               .str(0);
  });
  auto p = json::parse(last);
  EXPECT_EQ(p["event_id"], id);
  EXPECT_EQ(p["from"], "on_sale");
  EXPECT_EQ(p["to"], "closed");

  // The scheduler never reopens it; after the performance it ends as usual.
  run([&]() -> Task<void> { applied = co_await sched.tick(); });
  EXPECT_EQ(applied, 0);
  clock_->advance(100 * kOneHour);
  run([&]() -> Task<void> { applied = co_await sched.tick(); });
  EXPECT_EQ(applied, 2);
  EXPECT_EQ(body(call("GET", "/api/v1/admin/events/" + id))["status"], "ended");
  // A late sold-out report for an ended event changes nothing.
  publish("so-late", payload);
  run([&]() -> Task<void> { handled = co_await consume_once(*service_); });
  EXPECT_EQ(handled, 1);
  EXPECT_EQ(body(call("GET", "/api/v1/admin/events/" + id))["status"], "ended");
}

INSTANTIATE_TEST_SUITE_P(Backends, EventServiceTest, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace tiketi::event

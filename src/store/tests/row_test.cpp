// Row conversions and the URL checks of open(): no database needed.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "store/database.hpp"

namespace tiketi::store {
namespace {

Row make_row(std::vector<Value> values) {
  auto cols = std::make_shared<std::vector<std::string>>();
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string name = std::to_string(i);
    name.insert(name.begin(), 'c');  // not "c" + …: g++ 12 -Wrestrict false positive
    cols->push_back(std::move(name));
  }
  return Row(cols, std::move(values));
}

TEST(Row, ConvertsBetweenRepresentations) {
  Row r = make_row(
      {std::int64_t{42}, std::string("-9223372036854775808"), 2.5, std::string("x"), std::monostate{}, 3.0});
  EXPECT_EQ(r.i64(0), 42);
  EXPECT_EQ(r.str(0), "42");
  EXPECT_DOUBLE_EQ(r.f64(0), 42.0);
  EXPECT_EQ(r.i64("c1"), INT64_MIN);  // PostgreSQL-style text integer
  EXPECT_DOUBLE_EQ(r.f64(2), 2.5);
  EXPECT_EQ(r.str(2), "2.5");
  EXPECT_THROW(r.i64(2), std::runtime_error);  // 2.5 is not an integer
  EXPECT_EQ(r.i64(5), 3);                      // whole numeric is
  EXPECT_THROW(r.i64(3), std::runtime_error);
  EXPECT_THROW(r.f64(3), std::runtime_error);
  EXPECT_TRUE(r.is_null(4));
  EXPECT_THROW(r.str(4), std::runtime_error);
  EXPECT_EQ(r.opt_str("c4"), std::nullopt);
  EXPECT_EQ(r.opt_i64("c0"), 42);
  EXPECT_EQ(r.index_of("c3"), 3U);
  EXPECT_THROW(r.index_of("nope"), std::out_of_range);
}

TEST(Result, OneRequiresExactlyOneRow) {
  Result res;
  EXPECT_THROW(res.one(), std::runtime_error);
  res.rows.push_back(make_row({std::int64_t{1}}));
  EXPECT_EQ(res.one().i64(0), 1);
  res.rows.push_back(make_row({std::int64_t{2}}));
  EXPECT_THROW(res.one(), std::runtime_error);
}

DatabasePtr open_sync(OpenOptions opts) {
  boost::asio::io_context ctx;
  auto fut = boost::asio::co_spawn(ctx, open(ctx.get_executor(), std::move(opts)), boost::asio::use_future);
  ctx.run();
  return fut.get();
}

TEST(Open, RejectsBadUrlsAndSchemas) {
  EXPECT_THROW(open_sync({"mysql://secret@host/db", "auth"}), std::invalid_argument);
  EXPECT_THROW(open_sync({"sqlite:", "auth"}), std::invalid_argument);
  EXPECT_THROW(open_sync({"sqlite:/tmp/x", ""}), std::invalid_argument);
  EXPECT_THROW(open_sync({"sqlite:/tmp/x", "../etc"}), std::invalid_argument);
  try {
    open_sync({"mysql://user:hunter2@host/db", "auth"});
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << "password leaked";
  }
}

TEST(Open, UnreachablePostgresIsAConnectionError) {
  // Port 1 on loopback: nothing listens there, so the connect fails fast.
  try {
    open_sync({"postgres://nobody@127.0.0.1:1/none", "auth", 1});
    ADD_FAILURE() << "expected DbError";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind, DbError::Kind::connection);
  }
}

}  // namespace
}  // namespace tiketi::store

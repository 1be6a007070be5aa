#include "core/config.hpp"

#include <gtest/gtest.h>

namespace tiketi {
namespace {

TEST(ConfigValidate, ExpandsAllInStartOrder) {
  Config c;
  c.services = {"all"};
  validate(c);
  EXPECT_EQ(c.services, all_service_names());
}

TEST(ConfigValidate, KeepsCanonicalOrderAndDedupes) {
  Config c;
  c.services = {"payment", "auth", "payment"};
  validate(c);
  EXPECT_EQ(c.services, (std::vector<std::string>{"auth", "payment"}));
}

TEST(ConfigValidate, UnknownServiceNamesTheSetting) {
  Config c;
  c.services = {"tickets"};
  try {
    validate(c);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("setting services"), std::string::npos) << e.what();
  }
}

TEST(ConfigValidate, RejectsBadListenAndUrls) {
  for (auto listen : {"8080", "host:", "host:99999", ":80x"}) {
    Config c;
    c.listen = listen;
    EXPECT_THROW(validate(c), std::invalid_argument) << listen;
  }
  Config c;
  c.database_url = "mysql://x";
  EXPECT_THROW(validate(c), std::invalid_argument);
  Config r;
  r.redis_url = "http://x";
  EXPECT_THROW(validate(r), std::invalid_argument);
}

TEST(ConfigValidate, DefaultPeersUseStandardPorts) {
  Config c;
  validate(c);
  EXPECT_EQ(c.peers.at("auth"), "http://127.0.0.1:3001");
  EXPECT_EQ(c.peers.at("notification"), "http://127.0.0.1:3006");
  EXPECT_TRUE(c.embedded_database());
  EXPECT_TRUE(c.embedded_coordination());
}

}  // namespace
}  // namespace tiketi

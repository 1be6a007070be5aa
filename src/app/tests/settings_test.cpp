#include "app/settings.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace tiketi::app {
namespace {

TEST(Settings, DefaultsWhenNothingIsGiven) {
  auto c = resolve({});
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.services.size(), 6u);
}

TEST(Settings, FlagsBeatEnvBeatFileBeatDefaults) {
  SettingSources s;
  s.file = {{"listen", "127.0.0.1:1111"}, {"data-dir", "/file"}, {"log-level", "warn"}};
  s.env = {{"TIKETI_LISTEN", "127.0.0.1:2222"}, {"TIKETI_DATA_DIR", "/env"}};
  s.flags = {{"listen", "127.0.0.1:3333"}};
  auto c = resolve(s);
  EXPECT_EQ(c.listen, "127.0.0.1:3333");  // flag
  EXPECT_EQ(c.data_dir, "/env");          // env over file
  EXPECT_EQ(c.log_level, "warn");         // file over default
  EXPECT_EQ(c.threads > 0, true);         // default, resolved
}

TEST(Settings, InvalidValueNamesTheSettingWhateverItsSource) {
  for (int source = 0; source < 3; ++source) {
    SettingSources s;
    if (source == 0) {
      s.flags = {{"threads", "many"}};
    } else if (source == 1) {
      s.env = {{"TIKETI_THREADS", "many"}};
    } else {
      s.file = {{"threads", "many"}};
    }
    try {
      resolve(s);
      FAIL() << "expected an error from source " << source;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("setting threads"), std::string::npos) << e.what();
    }
  }
}

TEST(Settings, UnknownFileKeyIsAnError) {
  SettingSources s;
  s.file = {{"lisen", "x"}};
  EXPECT_THROW(resolve(s), std::invalid_argument);
}

TEST(Settings, ExtraServiceSettingsFromAllSources) {
  SettingSources s;
  s.file = {{"auth.jwt_secret", "from-file"}, {"auth.jwt_kid", "k1"}};
  s.env = {{"TIKETI_AUTH__JWT_SECRET", "from-env"}, {"UNRELATED", "x"}, {"TIKETI_TEST_POSTGRES_URL", "x"}};
  s.set_flags = {"queue.rate=50"};
  auto c = resolve(s);
  EXPECT_EQ(c.get("auth.jwt_secret"), "from-env");
  EXPECT_EQ(c.get("auth.jwt_kid"), "k1");
  EXPECT_EQ(c.get("queue.rate"), "50");
}

TEST(Settings, SecretFromFile) {
  std::string path = ::testing::TempDir() + "/tiketi-secret.txt";
  {
    std::ofstream f(path);
    f << "s3cret\n";
  }
  SettingSources s;
  s.env = {{"TIKETI_AUTH__JWT_SECRET_FILE", path}};
  EXPECT_EQ(resolve(s).get("auth.jwt_secret"), "s3cret");
  std::remove(path.c_str());
}

TEST(Settings, ReadsTomlFileWithSections) {
  std::string path = ::testing::TempDir() + "/tiketi-config.toml";
  {
    std::ofstream f(path);
    f << "listen = \"127.0.0.1:9999\"\nservices = \"auth,queue\"\n[auth]\njwt_secret = \"abc\"\n";
  }
  SettingSources s;
  s.file = read_config_file(path);
  auto c = resolve(s);
  EXPECT_EQ(c.listen, "127.0.0.1:9999");
  EXPECT_EQ(c.services, (std::vector<std::string>{"auth", "queue"}));
  EXPECT_EQ(c.get("auth.jwt_secret"), "abc");
  std::remove(path.c_str());
}

TEST(Settings, OneServicePerProcessDefaultsToItsStandardPort) {
  SettingSources s;
  s.flags = {{"services", "queue"}};
  EXPECT_EQ(resolve(s).listen, "127.0.0.1:3003");
  s.flags = {{"services", "auth,queue"}};
  EXPECT_EQ(resolve(s).listen, "127.0.0.1:8080");
  s.flags = {{"services", "queue"}, {"listen", "127.0.0.1:9000"}};
  EXPECT_EQ(resolve(s).listen, "127.0.0.1:9000");
  s.flags = {{"services", "notification"}};
  s.env = {{"TIKETI_LISTEN", "0.0.0.0:7000"}};
  EXPECT_EQ(resolve(s).listen, "0.0.0.0:7000");
}

TEST(Settings, PeersParsedAndChecked) {
  SettingSources s;
  s.flags = {{"peers", "auth=http://10.0.0.1:3001"}};
  EXPECT_EQ(resolve(s).peers.at("auth"), "http://10.0.0.1:3001");
  s.flags = {{"peers", "nope"}};
  EXPECT_THROW(resolve(s), std::invalid_argument);
}

}  // namespace
}  // namespace tiketi::app

// Pure logic: the strict template renderer, KRW/KST formatting, backoff, the shipped templates in
// both languages against golden files, and the compiled-in copy against templates/notification.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/notification/domain/format.hpp"
#include "services/notification/domain/message.hpp"
#include "services/notification/domain/retry.hpp"
#include "services/notification/domain/template.hpp"
#include "services/notification/domain/templates.hpp"

namespace tiketi::notification {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kHere = fs::path(__FILE__).parent_path();
const fs::path kRepo = kHere.parent_path().parent_path().parent_path().parent_path();

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TemplateRenderer, SubstitutesAndEscapesHtml) {
  json v{{"name", "<Kim & \"Lee\">"}, {"n", 3}};
  EXPECT_EQ(render_template("Hi {{name}} x{{ n }}", v, Escape::none), "Hi <Kim & \"Lee\"> x3");
  EXPECT_EQ(render_template("<p>{{name}}</p>", v, Escape::html), "<p>&lt;Kim &amp; &quot;Lee&quot;&gt;</p>");
}

TEST(TemplateRenderer, MissingVariableIsAnErrorNotAnEmptyString) {
  json v{{"name", "Kim"}};
  EXPECT_THROW(render_template("Hi {{nmae}}", v, Escape::none), TemplateError);
  EXPECT_THROW(render_template("{{#items}}x{{/items}}", v, Escape::none), TemplateError);
  try {
    render_template("Hi {{nmae}}", v, Escape::none, "greeting");
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("nmae"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("greeting"), std::string::npos);
  }
}

TEST(TemplateRenderer, SectionsIterateAndLookOutward) {
  json v{{"link", "L"},
         {"items", json::array({json{{"code", "A"}}, json{{"code", "B"}}})},
         {"on", false},
         {"none", json::array()}};
  EXPECT_EQ(render_template("{{#items}}[{{code}} {{link}}]{{/items}}", v, Escape::none), "[A L][B L]");
  EXPECT_EQ(render_template("{{#on}}yes{{/on}}{{^on}}no{{/on}}", v, Escape::none), "no");
  // An empty list hides its body, whose names belong to elements that do not exist.
  EXPECT_EQ(render_template("a{{#none}}{{code}}{{/none}}b", v, Escape::none), "ab");
  EXPECT_THROW(render_template("{{#items}}x", v, Escape::none), TemplateError);
  EXPECT_THROW(render_template("x{{/items}}", v, Escape::none), TemplateError);
  EXPECT_THROW(render_template("{{items}}", v, Escape::none), TemplateError);  // not a scalar
}

TEST(Format, Krw) {
  EXPECT_EQ(format_krw(0), "₩0");
  EXPECT_EQ(format_krw(999), "₩999");
  EXPECT_EQ(format_krw(1000), "₩1,000");
  EXPECT_EQ(format_krw(120000), "₩120,000");
  EXPECT_EQ(format_krw(1234567), "₩1,234,567");
  EXPECT_EQ(format_krw(-5000), "-₩5,000");
  EXPECT_EQ(format_krw(INT64_MIN), "-₩9,223,372,036,854,775,808");
}

TEST(Format, KoreaStandardTime) {
  // 2025-08-01T10:00:00Z is 19:00 KST on a Friday.
  const Millis t = 1754042400000;
  EXPECT_EQ(format_kst(t, "ko"), "2025년 8월 1일 (금) 19:00");
  EXPECT_EQ(format_kst(t, "en"), "Fri, 1 Aug 2025 19:00 KST");
  // 15:30Z crosses midnight in Seoul.
  EXPECT_EQ(format_kst(1754062200000, "en"), "Sat, 2 Aug 2025 00:30 KST");
  EXPECT_EQ(normalize_language("ko-KR"), "ko");
  EXPECT_EQ(normalize_language("fr"), "en");
}

TEST(Retry, ExponentialWithJitterAndCap) {
  RetryPolicy p{.max_attempts = 5, .base_delay_ms = 1000, .max_delay_ms = 10'000};
  EXPECT_EQ(backoff_delay(p, 1, 0.0), 500);
  EXPECT_EQ(backoff_delay(p, 1, 0.999999), 999);
  EXPECT_EQ(backoff_delay(p, 2, 0.0), 1000);
  EXPECT_EQ(backoff_delay(p, 3, 0.5), 3000);
  EXPECT_EQ(backoff_delay(p, 10, 0.0), 5000);     // capped at 10 s, half-jitter floor
  EXPECT_LT(backoff_delay(p, 60, 0.99), 10'000);  // no overflow far out
  EXPECT_EQ(after_failure(p, 1, 0), Outcome::retry);
  EXPECT_EQ(after_failure(p, 1, 421), Outcome::retry);
  EXPECT_EQ(after_failure(p, 1, 550), Outcome::failed);  // permanent: never retried
  EXPECT_EQ(after_failure(p, 5, 0), Outcome::failed);    // dead letter after max attempts
}

// Sample payloads in the shapes the reservation and payment services emit.
json sample_payload(const std::string& topic) {
  json items = json::array({json{{"label", "A구역 1열 12번"},
                                 {"ticket_type_id", "tt-vip"},
                                 {"unit_price", 165000},
                                 {"quantity", 1},
                                 {"seat_id", "A-1-12"}},
                            json{{"label", "A구역 1열 13번"},
                                 {"ticket_type_id", "tt-vip"},
                                 {"unit_price", 165000},
                                 {"quantity", 1},
                                 {"seat_id", "A-1-13"}}});
  json base{{"schema_version", 1}, {"reservation_id", "r-100"}, {"user_id", "u-1"},
            {"event_id", "e-1"},   {"amount", 330000},          {"quantity", 2},
            {"kind", "seated"},    {"at", 1750000000000}};
  if (topic == "reservation.confirmed") {
    base["payment_id"] = "p-7";
    base["items"] = items;
    base["tickets"] = json::array({json{{"code", "TK-AAAA-1111"}, {"label", "A구역 1열 12번"}},
                                   json{{"code", "TK-BBBB-2222"}, {"label", "A구역 1열 13번"}}});
  } else if (topic == "reservation.cancelled") {
    base["refund"] = true;
    base["items"] = items;
  } else if (topic == "reservation.expired") {
    base["reason"] = "hold_expired";
    base["items"] = items;
  } else if (topic == "reservation.confirmation_failed") {
    base["payment_id"] = "p-7";
    base["reason"] = "seats_taken";
  } else if (topic == "payment.completed" || topic == "payment.refunded") {
    base = json{{"schema_version", 1},    {"payment_id", "p-7"},   {"reservation_id", "r-100"},
                {"user_id", "u-1"},       {"order_id", "o-1"},     {"amount", 330000},
                {"points_amount", 30000}, {"card_amount", 300000}, {"method", "mixed"},
                {"at", 1750000000000}};
    if (topic == "payment.refunded") {
      base["refund_id"] = "rf-1";
      base["reason"] = "cancelled";
      base["refunded_points"] = 30000;
      base["refunded_card"] = 300000;
    }
  }
  return base;
}

TEST(Templates, BothLanguagesMatchGoldenFiles) {
  const auto set = TemplateSet::load(std::nullopt);
  const bool update = std::getenv("TIKETI_UPDATE_GOLDEN") != nullptr;
  const EventInfo event{"e-1", "IU 콘서트 <The Golden Hour>", 1754042400000};
  int checked = 0;
  for (const auto& topic : mailed_topics()) {
    for (const std::string lang : {"ko", "en"}) {
      const Recipient to{"u-1", "fan@example.com", lang == "ko" ? "김지은" : "Jieun Kim", lang};
      auto vars = build_vars(topic, sample_payload(topic), to, event, "https://tiketi.example");
      const auto mail = set.render(template_for_topic(topic), lang, vars);
      const std::string stem = template_for_topic(topic) + "." + lang;
      const std::pair<std::string, std::string> parts[] = {
          {".subject.txt", mail.subject + "\n"}, {".body.txt", mail.text}, {".body.html", mail.html}};
      for (const auto& [suffix, actual] : parts) {
        const fs::path golden = kHere / "golden" / (stem + suffix);
        if (update) {
          fs::create_directories(golden.parent_path());
          std::ofstream(golden, std::ios::binary) << actual;
        }
        ASSERT_TRUE(fs::exists(golden)) << golden << " (run with TIKETI_UPDATE_GOLDEN=1 to create)";
        EXPECT_EQ(actual, slurp(golden)) << golden;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 36);
}

TEST(Templates, EveryTemplateNeedsItsVariables) {
  // Dropping any top-level variable must break rendering of at least one part, in both languages:
  // proof that nothing a template shows silently becomes "".
  const auto set = TemplateSet::load(std::nullopt);
  const EventInfo event{"e-1", "Concert", 1754042400000};
  for (const auto& topic : mailed_topics()) {
    for (const std::string lang : {"ko", "en"}) {
      const Recipient to{"u-1", "fan@example.com", "Kim", lang};
      const auto vars = build_vars(topic, sample_payload(topic), to, event, "https://t.example");
      EXPECT_NO_THROW(set.render(template_for_topic(topic), lang, vars));
      auto broken = vars;
      broken.erase("name");
      EXPECT_THROW(set.render(template_for_topic(topic), lang, broken), TemplateError)
          << topic << " " << lang;
    }
  }
}

TEST(Templates, TemplatesOnDiskMatchEmbedded) {
  const fs::path dir = kRepo / "templates" / "notification";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::size_t files = 0;
  for (const auto& t : embedded_templates()) {
    EXPECT_EQ(slurp(dir / t.path), t.text)
        << t.path << ": the build embeds templates/notification (cmake/embed_templates.cmake)";
  }
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    files += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(files, embedded_templates().size());
  EXPECT_EQ(files, 36u);
}

TEST(Templates, OperatorOverrideWithoutRebuild) {
  const fs::path dir = fs::temp_directory_path() / "tiketi-notif-tpl-override";
  fs::remove_all(dir);
  fs::create_directories(dir / "payment_completed");
  std::ofstream(dir / "payment_completed" / "en.subject.txt") << "Paid {{amount}}, {{name}}!\n";
  const auto set = TemplateSet::load(dir);
  EXPECT_EQ(set.overridden(), 1u);
  const Recipient to{"u-1", "fan@example.com", "Kim", "en"};
  auto vars =
      build_vars("payment.completed", sample_payload("payment.completed"), to, std::nullopt, "https://t");
  auto mail = set.render("payment_completed", "en", vars);
  EXPECT_EQ(mail.subject, "Paid ₩330,000, Kim!");
  EXPECT_NE(mail.text.find("Points used: ₩30,000"), std::string::npos);  // the rest is the default
  EXPECT_THROW(TemplateSet::load(dir / "nope"), std::invalid_argument);
  fs::remove_all(dir);
}

TEST(Message, ReservationEventsNeedEventDetails) {
  const Recipient to{"u-1", "fan@example.com", "Kim", "en"};
  EXPECT_THROW(
      build_vars("reservation.confirmed", sample_payload("reservation.confirmed"), to, std::nullopt, "x"),
      std::invalid_argument);
  EXPECT_EQ(recipient_of(sample_payload("payment.completed")).value_or(""), "u-1");
  EXPECT_FALSE(recipient_of(json{{"x", 1}}).has_value());
}

}  // namespace
}  // namespace tiketi::notification

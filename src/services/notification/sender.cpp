#include "services/notification/sender.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "services/notification/domain/format.hpp"
#include "services/notification/domain/template.hpp"

namespace tiketi::notification {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;
using nlohmann::json;

bool needs_event(const std::string& topic) {
  return topic == "reservation.confirmed" || topic == "reservation.cancelled" ||
         topic == "reservation.expired";
}

// Event details from the catalogue's public API when event.published was never seen here (e.g. the
// event was published before this service's consumer group existed). Remembered afterwards.
Task<std::optional<EventInfo>> fetch_event(NotificationState& s, const std::string& event_id) {
  if (s.ctx.client == nullptr) {
    co_return std::nullopt;
  }
  net::ClientRequest req;
  req.method = "GET";
  req.path = "/api/v1/events/" + event_id;
  auto res = co_await s.ctx.client->call("event", std::move(req), s.ctx.log);
  if (res.status != 200) {
    co_return std::nullopt;
  }
  const json j = json::parse(res.body, nullptr, false);
  if (!j.is_object() || !j.contains("title")) {
    co_return std::nullopt;
  }
  EventInfo info{event_id, j.value("title", ""), j.value("performance_start", std::int64_t{0})};
  co_await s.store->remember_event(info);
  co_return info;
}

}  // namespace

struct Sender::Wake {
  std::shared_ptr<Channel> channel;
  std::mutex mu;
};

void Sender::wake() {
  auto w = wake_;
  if (w) {
    std::lock_guard lock(w->mu);
    if (w->channel) {
      w->channel->try_send(boost::system::error_code{});
    }
  }
}

void Sender::stop() {
  stopped_ = true;
  wake();
}

Task<void> Sender::run() {
  auto ex = co_await asio::this_coro::executor;
  auto w = std::make_shared<Wake>();
  w->channel = std::make_shared<Channel>(ex, 1);
  wake_ = w;
  running_ = true;
  log::info(s_.ctx.log, "notification sender started",
            {lf("mailer", s_.mailer->describe()), lf("workers", s_.settings.workers)});
  // A wake-up comes from the consumer inside its transaction, before the new row is committed, so
  // the pass after a wake-up starts wake_delay_ms later and, when it finds nothing, looks again a
  // few times (up to ~8x the delay in total) before falling back to the poll interval.
  int recheck = 0;
  const auto delay = std::chrono::milliseconds(s_.settings.wake_delay_ms);
  while (!stopped_) {
    PassResult r;
    try {
      r = co_await run_once();
    } catch (const std::exception& e) {
      log::warn(s_.ctx.log, "notification sender pass failed", {lf("error", e.what())});
    }
    if (stopped_) {
      break;
    }
    if (r.claimed >= s_.settings.batch) {
      continue;  // more may be due right now
    }
    if (r.claimed == 0 && recheck > 0) {
      --recheck;
      asio::steady_timer timer(ex, delay * (4 - recheck));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::steady_timer timer(ex, std::chrono::milliseconds(s_.settings.poll_ms));
    auto woke = co_await (w->channel->async_receive(asio::as_tuple(asio::use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (woke.index() == 0 && !stopped_) {
      recheck = 3;
      asio::steady_timer settle(ex, delay);
      co_await settle.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  running_ = false;
}

Task<PassResult> Sender::run_once() {
  auto stats = co_await s_.store->queue_stats();
  if (s_.metrics.pending != nullptr) {
    s_.metrics.pending->set(static_cast<double>(stats.pending));
    const Millis now = s_.ctx.clock->now_ms();
    s_.metrics.queue_lag->set(
        stats.oldest_created_at ? static_cast<double>(now - *stats.oldest_created_at) / 1000.0 : 0.0);
  }
  auto batch = std::make_shared<std::vector<Delivery>>(
      co_await s_.store->claim_due(s_.owner, s_.settings.claim_ms, s_.settings.batch));
  auto result = std::make_shared<PassResult>();
  result->claimed = static_cast<int>(batch->size());
  if (batch->empty()) {
    co_return *result;
  }
  // `workers` lanes, each sending its share in order, so at most `workers` SMTP transfers run at once.
  auto ex = co_await asio::this_coro::executor;
  const std::size_t lanes =
      std::min<std::size_t>(static_cast<std::size_t>(s_.settings.workers), batch->size());
  auto done = std::make_shared<Channel>(ex, lanes);
  for (std::size_t i = 0; i < lanes; ++i) {
    asio::co_spawn(ex, lane(batch, i, lanes, result),
                   [done](std::exception_ptr) { done->try_send(boost::system::error_code{}); });
  }
  for (std::size_t i = 0; i < lanes; ++i) {
    co_await done->async_receive(asio::as_tuple(asio::use_awaitable));
  }
  co_return *result;
}

Task<void> Sender::lane(std::shared_ptr<std::vector<Delivery>> batch, std::size_t first, std::size_t step,
                        std::shared_ptr<PassResult> result) {
  for (std::size_t i = first; i < batch->size(); i += step) {
    try {
      co_await deliver((*batch)[i], *result);
    } catch (const std::exception& e) {
      // The claim expires and another pass retries it.
      log::error(s_.ctx.log, "delivery bookkeeping failed",
                 {lf("delivery", (*batch)[i].id), lf("error", e.what())});
    }
  }
}

Task<void> Sender::deliver(const Delivery& d, PassResult& result) {
  const int attempt = d.attempts + 1;
  std::string email_addr;
  std::string error;
  int code = 0;
  bool permanent = false;
  std::optional<RenderedEmail> rendered;

  // 1. Who and what: recipient, event details, templates.
  const json payload = json::parse(d.payload, nullptr, false);
  std::optional<Recipient> to;
  std::optional<EventInfo> event;
  if (!payload.is_object()) {
    error = "payload is not a JSON object";
    permanent = true;
  } else {
    try {
      to = co_await s_.recipients->find(d.recipient);
      if (!to) {
        error = "recipient " + d.recipient + " is not known to the auth service";
        permanent = true;
      } else if (to->email.empty()) {
        error = "recipient " + d.recipient + " has no email address";
        permanent = true;
      }
    } catch (const std::exception& e) {
      error = std::string("recipient lookup failed: ") + e.what();
    }
  }
  if (error.empty() && needs_event(d.topic)) {
    const auto event_id = event_of(payload).value_or("");
    event = co_await s_.store->find_event(event_id);
    if (!event) {
      try {
        event = co_await fetch_event(s_, event_id);
      } catch (const std::exception& e) {
        error = std::string("event lookup failed: ") + e.what();
      }
      if (!event && error.empty()) {
        error = "details of event " + event_id + " are not known yet";
      }
    }
  }
  if (error.empty()) {
    try {
      const std::string lang = normalize_language(to->language);
      rendered = s_.templates.render(d.template_name, lang,
                                     build_vars(d.topic, payload, *to, event, s_.settings.public_url));
    } catch (const std::exception& e) {
      error = std::string("template: ") + e.what();
      permanent = true;  // a broken template does not fix itself; an admin resends after fixing it
    }
  }
  if (to) {
    email_addr = to->email;
  }

  // 2. Send on the worker pool.
  SendResult sent;
  if (rendered) {
    OutgoingEmail mail;
    mail.from = s_.settings.from_name + " <" + s_.settings.from_addr + ">";
    mail.from_addr = s_.settings.from_addr;
    mail.to = to->email;
    mail.to_name = to->name;
    mail.subject = rendered->subject;
    mail.text = std::move(rendered->text);
    mail.html = std::move(rendered->html);
    mail.message_id = d.id + "@" + s_.settings.from_addr.substr(s_.settings.from_addr.find('@') + 1);
    mail.date_ms = s_.ctx.clock->now_ms();
    const auto started = std::chrono::steady_clock::now();
    auto mailer = s_.mailer;
    std::function<void()> job = [&sent, &mail, mailer] { sent = mailer->send(mail); };
    co_await s_.pool->run(std::move(job));
    if (s_.metrics.smtp_seconds != nullptr) {
      s_.metrics.smtp_seconds->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (sent.ok) {
      const bool mine = co_await s_.store->mark_sent(d.id, s_.owner, mail.to, mail.subject, sent.code);
      ++result.sent;
      s_.metrics.count(d.template_name, "sent");
      if (s_.metrics.lag_seconds != nullptr) {
        s_.metrics.lag_seconds->observe(static_cast<double>(s_.ctx.clock->now_ms() - d.event_created_at) /
                                        1000.0);
      }
      if (!sent.where.empty()) {
        log::info(s_.ctx.log, "email written to the outbox directory",
                  {lf("delivery", d.id), lf("template", d.template_name), lf("path", sent.where)});
      }
      if (!mine) {
        log::warn(s_.ctx.log, "delivery claim was lost while sending", {lf("delivery", d.id)});
      }
      co_return;
    }
    error = sent.reply;
    code = sent.code;
  }

  // 3. Failure: retry later or dead-letter.
  const Outcome outcome = permanent ? Outcome::failed : after_failure(s_.settings.retry, attempt, code);
  if (outcome == Outcome::retry) {
    const Millis next = s_.ctx.clock->now_ms() + backoff_delay(s_.settings.retry, attempt, s_.jitter());
    co_await s_.store->mark_retry(d.id, s_.owner, next, error, code, email_addr);
    ++result.retried;
    s_.metrics.count(d.template_name, "retried");
    if (is_sender_config_smtp(code)) {
      // Every email will fail the same way until an operator fixes the credentials or TLS settings.
      log::error(s_.ctx.log,
                 "SMTP server refused our authentication; check notification.smtp_username, "
                 "smtp_password, smtp_auth and smtp_tls",
                 {lf("delivery", d.id), lf("attempt", attempt), lf("code", code), lf("error", error)});
    } else {
      log::warn(s_.ctx.log, "delivery failed; will retry",
                {lf("delivery", d.id), lf("attempt", attempt), lf("code", code), lf("error", error)});
    }
  } else {
    co_await s_.store->mark_failed(d.id, s_.owner, error, code, email_addr);
    ++result.failed;
    s_.metrics.count(d.template_name, "failed");
    log::error(s_.ctx.log, "delivery failed permanently",
               {lf("delivery", d.id), lf("attempt", attempt), lf("code", code), lf("error", error)});
  }
}

}  // namespace tiketi::notification

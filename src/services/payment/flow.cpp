#include "services/payment/flow.hpp"

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/payment/dto/json.hpp"

namespace tiketi::payment {
namespace {

Task<Payment> reload(State& s, const std::string& id) {
  auto p = co_await s.store->find(id);
  if (!p) {
    throw errors::not_found("payment");
  }
  co_return *p;
}

void wake_relay(State& s) {
  if (s.notify_relay) {
    s.notify_relay();
  }
}

// Inside tx: the one place a payment becomes CONFIRMED (besides confirm_now's single statement,
// which writes the same two rows). Returns the row as stored when it moved.
Task<std::optional<Payment>> finish_confirmed(State& s, store::Tx& tx, const Payment& p) {
  auto moved = co_await s.store->mark_confirmed_returning(tx, p.id);
  if (!moved) {
    co_return std::nullopt;
  }
  const Millis now = s.store->clock().now_ms();
  if (p.purpose == Purpose::point_charge) {
    co_await s.store->credit_points(tx, p.user_id, p.card_amount, PointKind::charge, p.id);
  } else {
    std::string topic = "payment.completed";
    std::string key = p.reservation_id.value_or(p.id);
    std::string payload = completed_payload(p, now);
    co_await coord::Outbox::add(tx, s.store->clock(), std::move(topic), std::move(key), std::move(payload),
                                s.ctx.log.trace_id);
  }
  co_return moved;
}

// Makes the payment CONFIRMED (with payment.completed in the outbox, or the points credited) in
// one durable commit. Returns the row as stored when this call moved it, nullopt when it was
// already moved by someone else.
Task<std::optional<Payment>> confirm_now(State& s, const Payment& p) {
  std::optional<Payment> after;
  if (p.purpose == Purpose::reservation && s.store->confirm_in_one_statement()) {
    // The hot path on PostgreSQL: UPDATE + outbox INSERT as one statement, one round trip.
    const Millis now = s.store->clock().now_ms();
    std::string event_id = ids::uuid_v7(now);
    std::string topic = "payment.completed";
    std::string key = p.reservation_id.value_or(p.id);
    std::string payload = completed_payload(p, now);
    std::string trace = s.ctx.log.trace_id;
    after = co_await s.store->confirm_with_event(p.id, now, std::move(event_id), std::move(topic), std::move(key),
                                                 std::move(payload), std::move(trace));
  } else {
    std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
      after = co_await finish_confirmed(s, tx, p);
    };
    co_await s.store->db().transaction(fn);
  }
  if (after) {
    s.metrics.payments("confirmed", method_of(p)).inc();
    wake_relay(s);
  }
  co_return after;
}

Task<void> fail_now(State& s, const Payment& p, const std::string& reason) {
  bool done = false;
  std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
    done = co_await abandon(s, tx, p, reason);
  };
  co_await s.store->db().transaction(fn);
  if (done) {
    s.metrics.payments("failed", method_of(p)).inc();
  }
}

// Applies what the gateway said to a confirm. Returns the payment as stored afterwards.
Task<Payment> apply_confirm(State& s, Payment p, const GatewayResult& r, bool reconcile_on_unknown) {
  // if/else rather than a switch: g++ 12 mishandles co_await inside switch cases with locals.
  std::string why;
  bool failed = false;
  if (r.outcome == GatewayOutcome::ok) {
    if (r.payment.status == "DONE" && r.payment.total_amount == p.card_amount &&
        r.payment.order_id == p.order_id) {
      auto moved = co_await confirm_now(s, p);
      if (moved) {
        co_return *moved;  // RETURNING gave the row: no read after the commit
      }
    } else {
      // The gateway charged something we did not ask for: never confirm on it.
      log::error(s.ctx.log, "gateway confirm answer does not match the payment",
                 {lf("payment_id", p.id), lf("gateway_status", r.payment.status),
                  lf("gateway_amount", static_cast<long long>(r.payment.total_amount))});
      why = "gateway_mismatch";
      failed = true;
    }
  } else if (r.outcome == GatewayOutcome::declined) {
    why = "declined:" + r.code;
    failed = true;
  } else if (r.outcome == GatewayOutcome::not_found) {
    why = "not_found_payment";
    failed = true;
  } else {
    why = r.code.empty() ? std::string("unknown") : r.code;
    const bool marked = co_await s.store->mark_unknown(p.id, why);
    if (marked) {
      s.metrics.unknown->inc();
      log::warn(s.ctx.log, "gateway outcome unknown; reconciling by lookup",
                {lf("payment_id", p.id), lf("code", r.code)});
    }
    if (reconcile_on_unknown) {
      Payment current = co_await reload(s, p.id);
      Payment after = co_await reconcile(s, std::move(current));
      co_return after;
    }
  }
  if (failed) {
    co_await fail_now(s, p, why);
  }
  Payment after = co_await reload(s, p.id);
  co_return after;
}

Task<Payment> call_confirm(State& s, Payment p) {
  auto r = co_await s.gateway->confirm(*p.payment_key, p.order_id, p.card_amount, p.order_id);
  if (r.outcome == GatewayOutcome::unreachable) {
    // Not one byte reached the gateway (refused connection, failed TLS handshake or certificate
    // check): nothing was charged. Give the payment back to CREATED so it can be confirmed again.
    const bool released = co_await s.store->release_gateway(p.id);
    s.metrics.payments("unreachable", method_of(p)).inc();
    log::warn(s.ctx.log, "payment gateway unreachable; nothing was sent",
              {lf("payment_id", p.id), lf("error", r.message)});
    if (released) {
      throw ApiError(503, "gateway_unreachable",
                     "The payment gateway could not be reached; nothing was charged. Please try again.");
    }
    co_return co_await reload(s, p.id);
  }
  co_return co_await apply_confirm(s, std::move(p), r, true);
}

}  // namespace

Task<Payment> confirm_started(State& s, Payment p) {
  auto after = co_await call_confirm(s, std::move(p));
  co_return after;
}

Task<Payment> confirm_payment(State& s, Payment p, std::optional<std::string> payment_key) {
  if (p.card_amount == 0) {
    if (p.status == Status::created) {
      auto moved = co_await confirm_now(s, p);
      if (moved) {
        p = std::move(*moved);
      } else {
        p = co_await reload(s, p.id);
      }
    }
  } else if (p.status == Status::created) {
    if (!payment_key) {
      throw errors::validation({{"paymentKey", "is required for the card part"}});
    }
    bool started = false;
    try {
      started = co_await s.store->start_gateway(p.id, *payment_key);
    } catch (const store::DbError& e) {
      if (e.kind != store::DbError::Kind::unique_violation) {
        throw;
      }
      throw errors::conflict("payment_key_used", "This paymentKey already paid for another payment.");
    }
    if (started) {
      p.status = Status::pending_gateway;
      p.payment_key = *payment_key;
      co_return co_await call_confirm(s, std::move(p));
    }
    p = co_await reload(s, p.id);  // another request moved it first
  }

  if (payment_key && p.card_amount > 0 && p.payment_key && *p.payment_key != *payment_key) {
    throw errors::conflict("payment_key_mismatch",
                           "This payment is being confirmed with another paymentKey.");
  }
  if (p.status == Status::unknown) {
    Payment after = co_await reconcile(s, std::move(p));
    co_return after;
  }
  if (is_terminal(p.status)) {
    throw errors::conflict("payment_not_confirmable", "This payment is " + std::string(to_string(p.status)) +
                                                          " and cannot be confirmed.");
  }
  co_return p;  // CONFIRMED, or PENDING_GATEWAY while another request talks to the gateway
}

Task<Payment> reconcile(State& s, Payment p) {
  if ((p.status != Status::unknown && p.status != Status::pending_gateway) || !p.payment_key) {
    co_return p;
  }
  auto r = co_await s.gateway->lookup_by_order(p.order_id);
  if (r.outcome == GatewayOutcome::not_found) {
    {
      const std::string why = "not_found_payment";
      co_await fail_now(s, p, why);
    }
    co_return co_await reload(s, p.id);
  }
  if (r.outcome != GatewayOutcome::ok) {
    co_await s.store->touch(p.id, p.status);  // try again on a later pass
    co_return co_await reload(s, p.id);
  }
  const auto& g = r.payment;
  if (g.payment_key != *p.payment_key) {
    {
      const std::string why = "payment_key_mismatch";
      co_await fail_now(s, p, why);
    }
  } else if (g.status == "DONE") {
    co_return co_await apply_confirm(s, p, r, false);
  } else if (g.status == "READY" || g.status == "IN_PROGRESS") {
    // The lookup proves the confirm never took effect, so sending it again (same idempotency key)
    // is an informed retry, not a blind one.
    auto again = co_await s.gateway->confirm(*p.payment_key, p.order_id, p.card_amount, p.order_id);
    co_return co_await apply_confirm(s, p, again, false);
  } else {
    {
      const std::string why = "gateway_status:" + g.status;
      co_await fail_now(s, p, why);
    }
  }
  co_return co_await reload(s, p.id);
}

Task<bool> abandon(State& s, store::Tx& tx, const Payment& p, const std::string& reason) {
  const bool moved = co_await s.store->mark_failed(tx, p.id, reason);
  if (!moved) {
    co_return false;
  }
  if (p.points_amount > 0) {
    co_await s.store->credit_points(tx, p.user_id, p.points_amount, PointKind::refund, p.id);
  }
  co_return true;
}

Task<bool> request_refund(State& s, store::Tx& tx, const Payment& p, const std::string& reason,
                          const std::string& source) {
  if (p.status != Status::confirmed || p.purpose != Purpose::reservation) {
    co_return false;
  }
  const Millis now = s.store->clock().now_ms();
  Refund r;
  r.id = ids::uuid_v7(now);
  r.payment_id = p.id;
  r.reason = reason;
  r.source = source;
  r.points_amount = p.points_amount;
  r.card_amount = p.card_amount;
  r.status = RefundStatus::pending;
  r.created_at = now;
  r.updated_at = now;
  const bool inserted = co_await s.store->insert_refund(tx, r);
  if (!inserted) {
    co_return false;
  }
  if (p.points_amount > 0) {
    co_await s.store->credit_points(tx, p.user_id, p.points_amount, PointKind::refund, p.id);
  }
  if (p.card_amount == 0) {
    const std::optional<std::string> none;
    co_await s.store->finish_refund(tx, r.id, RefundStatus::succeeded, none);
    co_await s.store->mark_refund_outcome(tx, p.id, Status::refunded, none);
    r.status = RefundStatus::succeeded;
    std::string topic = "payment.refunded";
    std::string key = p.reservation_id.value_or(p.id);
    std::string payload = refunded_payload(p, r, now);
    co_await coord::Outbox::add(tx, s.store->clock(), std::move(topic), std::move(key), std::move(payload),
                                s.ctx.log.trace_id);
  }
  co_return true;
}

Task<std::optional<Refund>> process_refund(State& s, const std::string& payment_id) {
  auto refund = co_await s.store->find_refund(payment_id);
  if (!refund || refund->status != RefundStatus::pending) {
    co_return refund;
  }
  auto p = co_await s.store->find(payment_id);
  if (!p || !p->payment_key) {
    co_return refund;
  }
  const std::string idem = "refund-" + refund->id;
  auto r = co_await s.gateway->cancel(*p->payment_key, refund->reason, std::nullopt, idem);
  if (r.outcome == GatewayOutcome::unknown || r.outcome == GatewayOutcome::unreachable) {
    co_await s.store->touch_refund(refund->id);
    co_return co_await s.store->find_refund(payment_id);
  }
  const bool ok = r.outcome == GatewayOutcome::ok || r.outcome == GatewayOutcome::already_processed;
  Refund done = *refund;
  done.status = ok ? RefundStatus::succeeded : RefundStatus::failed;
  if (!ok) {
    done.failure_reason = r.code + (r.message.empty() ? "" : ": " + r.message);
  }
  bool changed = false;
  std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
    changed = co_await s.store->finish_refund(tx, done.id, done.status, done.failure_reason);
    if (!changed) {
      co_return;
    }
    const Millis now = s.store->clock().now_ms();
    std::optional<std::string> why;
    if (!ok) {
      why = done.failure_reason;
    }
    co_await s.store->mark_refund_outcome(tx, p->id, ok ? Status::refunded : Status::refund_failed, why);
    std::string topic = ok ? "payment.refunded" : "payment.refund_failed";
    std::string key = p->reservation_id.value_or(p->id);
    std::string payload = ok ? refunded_payload(*p, done, now) : refund_failed_payload(*p, done, now);
    co_await coord::Outbox::add(tx, s.store->clock(), std::move(topic), std::move(key), std::move(payload),
                                s.ctx.log.trace_id);
  };
  co_await s.store->db().transaction(fn);
  if (changed) {
    s.metrics.refunds(ok ? "succeeded" : "failed").inc();
    if (!ok) {
      log::error(s.ctx.log, "gateway refused a refund",
                 {lf("payment_id", p->id), lf("reason", *done.failure_reason)});
    }
    wake_relay(s);
  }
  co_return co_await s.store->find_refund(payment_id);
}

Task<int> reconcile_pass(State& s, PassGuard* guard) {
  int handled = 0;
  const Millis now = s.store->clock().now_ms();
  const Millis stale_pending = now - (s.settings.gateway_timeout_ms * 2 + 1'000);
  auto open = co_await s.store->needs_reconcile(now, stale_pending, 100);
  for (auto& p : open) {
    if (guard != nullptr) {
      const bool leader = co_await guard->still_leader();
      if (!leader) {
        co_return handled;
      }
    }
    try {
      co_await reconcile(s, p);
      ++handled;
    } catch (const std::exception& e) {
      log::warn(s.ctx.log, "reconcile failed", {lf("payment_id", p.id), lf("error", e.what())});
    }
  }
  auto stale = co_await s.store->abandoned(now, 100);
  for (auto& p : stale) {
    {
      const std::string why = "abandoned";
      co_await fail_now(s, p, why);
    }
    ++handled;
  }
  auto refunds = co_await s.store->pending_refunds(now, 100);
  for (auto& r : refunds) {
    if (guard != nullptr) {
      const bool leader = co_await guard->still_leader();
      if (!leader) {
        co_return handled;
      }
    }
    try {
      co_await process_refund(s, r.payment_id);
      ++handled;
    } catch (const std::exception& e) {
      log::warn(s.ctx.log, "refund attempt failed", {lf("payment_id", r.payment_id), lf("error", e.what())});
    }
  }
  co_return handled;
}

Task<void> on_reservation_cancelled(State& s, store::Tx& tx, const std::string& event_id,
                                    const std::string& payload) {
  auto o = parse_reservation_outcome(payload);
  if (!o) {
    log::error(s.ctx.log, "ignoring malformed reservation.cancelled", {lf("event_id", event_id)});
    co_return;
  }
  auto payments = co_await s.store->find_by_reservation(tx, o->reservation_id);
  for (const auto& p : payments) {
    if (p.status == Status::created) {
      const std::string why = "reservation_cancelled";
      co_await abandon(s, tx, p, why);
    } else if (p.status == Status::confirmed) {
      const std::string why = o->reason.empty() ? std::string("reservation_cancelled") : o->reason;
      co_await request_refund(s, tx, p, why, event_id);
    }
    // PENDING_GATEWAY / UNKNOWN resolve first; a confirmation then comes back as
    // reservation.confirmation_failed and is refunded there.
  }
}

Task<void> on_confirmation_failed(State& s, store::Tx& tx, const std::string& event_id,
                                  const std::string& payload) {
  auto o = parse_reservation_outcome(payload);
  if (!o || !o->payment_id) {
    log::error(s.ctx.log, "ignoring malformed reservation.confirmation_failed", {lf("event_id", event_id)});
    co_return;
  }
  auto p = co_await s.store->find(tx, *o->payment_id);
  if (!p) {
    co_return;
  }
  const std::string why =
      o->reason.empty() ? std::string("confirmation_failed") : "confirmation_failed:" + o->reason;
  co_await request_refund(s, tx, *p, why, event_id);
}

}  // namespace tiketi::payment

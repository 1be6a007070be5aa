#include "services/event/domain/status.hpp"

namespace tiketi::event {
namespace {

int rank(EventStatus s) {
  switch (s) {
    case EventStatus::scheduled:
      return 1;
    case EventStatus::on_sale:
      return 2;
    case EventStatus::closed:
      return 3;
    case EventStatus::ended:
      return 4;
    default:
      return 0;
  }
}

bool automated(EventStatus s) { return rank(s) > 0; }

}  // namespace

EventStatus due_status(const Event& e, Millis now) {
  if (!automated(e.status)) {
    return e.status;
  }
  EventStatus by_time = EventStatus::scheduled;
  if (now >= e.performance_end) {
    by_time = EventStatus::ended;
  } else if (now >= e.sale_end || (e.sold_out && now >= e.sale_start)) {
    by_time = EventStatus::closed;
  } else if (now >= e.sale_start) {
    by_time = EventStatus::on_sale;
  }
  return rank(by_time) > rank(e.status) ? by_time : e.status;
}

std::optional<Millis> next_transition_at(const Event& e) {
  switch (e.status) {
    case EventStatus::scheduled:
      return e.sale_start;
    case EventStatus::on_sale:
      return e.sale_end;
    case EventStatus::closed:
      return e.performance_end;
    default:
      return std::nullopt;
  }
}

std::optional<Transition> due_transition(const Event& e, Millis now) {
  const EventStatus to = due_status(e, now);
  if (to == e.status) {
    return std::nullopt;
  }
  return Transition{e.status, to};
}

}  // namespace tiketi::event

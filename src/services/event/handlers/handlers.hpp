#pragma once
// One function per resource and verb; thin: parse, call the store, render.
#include "net/http.hpp"
#include "services/event/state.hpp"

namespace tiketi::event::handlers {

using Fn = Task<net::Response> (*)(EventState&, net::Request&);

// Public (cached, ETag)
Task<net::Response> events_list(EventState& s, net::Request& req);
Task<net::Response> event_get(EventState& s, net::Request& req);
Task<net::Response> event_seating_get(EventState& s, net::Request& req);
Task<net::Response> news_list(EventState& s, net::Request& req);
Task<net::Response> news_get(EventState& s, net::Request& req);
Task<net::Response> image_get(EventState& s, net::Request& req);  // GET /api/v1/images/{key}

// Admin (role admin)
Task<net::Response> admin_events_list(EventState& s, net::Request& req);
Task<net::Response> admin_event_create(EventState& s, net::Request& req);
Task<net::Response> admin_event_get(EventState& s, net::Request& req);
Task<net::Response> admin_event_update(EventState& s, net::Request& req);
Task<net::Response> admin_event_delete(EventState& s, net::Request& req);
Task<net::Response> admin_event_publish(EventState& s, net::Request& req);
Task<net::Response> admin_seating_put(EventState& s, net::Request& req);
Task<net::Response> admin_ticket_types_list(EventState& s, net::Request& req);
Task<net::Response> admin_ticket_type_create(EventState& s, net::Request& req);
Task<net::Response> admin_ticket_type_update(EventState& s, net::Request& req);
Task<net::Response> admin_ticket_type_delete(EventState& s, net::Request& req);
Task<net::Response> admin_venues_list(EventState& s, net::Request& req);
Task<net::Response> admin_venue_create(EventState& s, net::Request& req);
Task<net::Response> admin_venue_get(EventState& s, net::Request& req);
Task<net::Response> admin_venue_update(EventState& s, net::Request& req);
Task<net::Response> admin_venue_delete(EventState& s, net::Request& req);
Task<net::Response> admin_news_create(EventState& s, net::Request& req);
Task<net::Response> admin_news_update(EventState& s, net::Request& req);
Task<net::Response> admin_news_delete(EventState& s, net::Request& req);
Task<net::Response> admin_image_upload(EventState& s, net::Request& req);  // multipart, one file

}  // namespace tiketi::event::handlers

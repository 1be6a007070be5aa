#pragma once
// The queue's atomic steps: each is Lua for Redis and the same logic natively for the in-process
// store. Key and argument order is documented on each factory.
#include "coord/coordinator.hpp"

namespace tiketi::queue::scripts {

// KEYS line seq seen active ipcount renewals; ARGV user now direct(0|1) max_active session_ms ip ip_cap
// -> {1, expiry} admitted | {0, rank, seq, created(0|1)} waiting | {3} refused: the IP took ip_cap
// places already (ip_cap 0 = no cap; ipcount counts places taken per IP over the line's life)
const coord::Script& join();
// KEYS line seen active; ARGV user now -> {1, expiry} | {0, rank, seq} | {2} absent
const coord::Script& status();
// KEYS line seen active [renewals]; ARGV user -> number of sets (line, active) the user was removed from
const coord::Script& leave();
// KEYS line active seen head fence [renewals]; ARGV now n max_active session_ms fencing_token
// -> {-1} fenced | {0, expired, head, waiting, active, user1, seq1, user2, seq2, ...}
const coord::Script& admit();
// KEYS line seen; ARGV cutoff limit -> removed count
const coord::Script& sweep();
// KEYS line opened; ARGV user1 score1 user2 score2 ... -> -1 when already opened, else rescored
const coord::Script& open();
// KEYS active renewals; ARGV user now session_ms max_renewals
// -> {1, expiry, renewals used} renewed (or already later) | {2} no live session | {3, expiry} limit
const coord::Script& renew();
// KEYS active; ARGV now -> live sessions (expiry > now)
const coord::Script& count_active();

}  // namespace tiketi::queue::scripts

-- wrk script: logs in as a pool of pre-created users, round robin (bench/auth/run.sh).
-- BENCH_USERS users named <BENCH_PREFIX>-<i>@bench.example.com share BENCH_PASSWORD.
local users = tonumber(os.getenv("BENCH_USERS") or "64")
local prefix = os.getenv("BENCH_PREFIX") or "bench"
local password = os.getenv("BENCH_PASSWORD") or ""
local next_id = 0
local counter = 0

function setup(thread)
  thread:set("offset", next_id * 7919)
  next_id = next_id + 1
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local body = string.format('{"email":"%s-%d@bench.example.com","password":"%s"}', prefix, counter % users, password)
  return wrk.format("POST", "/api/v1/auth/login", { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT login requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

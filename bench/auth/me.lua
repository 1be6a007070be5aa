-- wrk script: GET /api/v1/auth/me with a bearer token, each connection pausing BENCH_DELAY_MS
-- between requests (a moderate, steady load rather than saturation; bench/auth/run.sh).
local token = os.getenv("BENCH_TOKEN") or ""
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "2")
wrk.method = "GET"
wrk.path = "/api/v1/auth/me"
wrk.headers["Authorization"] = "Bearer " .. token

function delay()
  return pause
end

function done(summary, latency, requests)
  io.write(string.format("RESULT me requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

-- wrk script for bench/reservation/run.sh: POST /api/v1/reservations from a pool of pre-minted user
-- tokens (so the per-user limit never decides), counting 201 / 409 / other per thread.
--   wrk ... -s hold.lua URL -- seats <event> <dir> [file]   1-4 seats per hold from <dir>/<file>
--                                                          (default seats.txt)
--   wrk ... -s hold.lua URL -- ga <event> <dir> <ticket type>   one GA ticket per order
-- Every thread walks its own random permutation of the seat list, so threads compete for seats more
-- and more as the map fills (what fans picking "available" seats from a slightly old map do).
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode, event, dir, ttid = args[1], args[2], args[3], args[4]
  tokens = {}
  for line in io.lines(dir .. "/tokens.txt") do tokens[#tokens + 1] = line end
  math.randomseed(os.time() * 1000 + (tid or 1) * 7919)
  seats = {}
  if mode == "seats" then
    for line in io.lines(dir .. "/" .. (ttid or "seats.txt")) do seats[#seats + 1] = line end
    for i = #seats, 2, -1 do
      local j = math.random(i)
      seats[i], seats[j] = seats[j], seats[i]
    end
  end
  pos = 1
  ok, conflict, other, held = 0, 0, 0, 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  headers["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]
  local body
  if mode == "seats" then
    local k = math.random(4)
    local picked = {}
    for i = 1, k do
      if pos > #seats then pos = 1 end
      picked[i] = '"' .. seats[pos] .. '"'
      pos = pos + 1
    end
    body = '{"eventId":"' .. event .. '","seatIds":[' .. table.concat(picked, ",") .. ']}'
  else
    body = '{"eventId":"' .. event .. '","ticketTypeId":"' .. ttid .. '","quantity":1}'
  end
  return wrk.format("POST", "/api/v1/reservations", headers, body)
end

function response(status, hdrs, body)
  if status == 201 then
    ok = ok + 1
    if mode == "seats" then
      local _, n = body:gsub('"seatId"', '')
      held = held + n
    else
      held = held + 1
    end
  elseif status == 409 then
    conflict = conflict + 1
  else
    other = other + 1
    if other <= 3 then io.stderr:write("unexpected " .. status .. ": " .. body:sub(1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local o, c, x, h = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    c = c + t:get("conflict")
    x = x + t:get("other")
    h = h + t:get("held")
  end
  io.write(string.format("RESULT ok=%d conflict=%d other=%d held=%d dur_us=%d p50_us=%d p99_us=%d errors=%d\n",
    o, c, x, h, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

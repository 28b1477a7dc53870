-- wrk script: GET /v1/products/search with queries drawn at random from WRK_QUERIES (a
-- file, one query per line), paced so that all connections together send about
-- WRK_RATE requests/s (wrk itself has no fixed rate: each connection waits
-- connections/rate seconds between its requests, on average).
-- WRK_PACING=spread (the default) draws each wait uniformly from 0.5 to 1.5 times that, so
-- the connections drift apart and requests arrive as a steady stream, as 5,000 users would
-- send them. WRK_PACING=lockstep waits exactly that long: the 64 connections, started
-- together, then stay together, and every 12.8 ms 64 requests arrive at once; the last of
-- a burst waits for the other 63, so the p99 measures how fast a burst drains (the floor,
-- /healthz, had a p99 of 3.5 ms that way), not a search.
-- usage: WRK_QUERIES=q.txt WRK_RATE=5000 WRK_CONNECTIONS=64 wrk -t1 -c64 -d10s -s wrk-search.lua URL
-- With WRK_PATH=/healthz it sends that instead (the floor, at the same pace).
local threads = {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end

local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  math.randomseed(1234 + tid)
  path = os.getenv("WRK_PATH")
  queries = {}
  if not path then
    for line in io.lines(os.getenv("WRK_QUERIES")) do
      if #line > 0 then queries[#queries + 1] = "/v1/products/search?q=" .. encode(line) .. "&size=20" end
    end
  end
  local rate = tonumber(os.getenv("WRK_RATE") or "5000")
  local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "64")
  pause = connections * 1000 / rate
  lockstep = os.getenv("WRK_PACING") == "lockstep"
  c200, other = 0, 0
end

function delay()
  if lockstep then return pause end
  return pause * (0.5 + math.random())
end

function request()
  return wrk.format("GET", path or queries[math.random(#queries)])
end

function response(status, headers, body)
  if status == 200 then c200 = c200 + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, th in ipairs(threads) do ok = ok + th:get("c200"); bad = bad + th:get("other") end
  io.write(string.format('{"200": %d, "other": %d, "p50_ms": %.2f, "p99_ms": %.2f, "p999_ms": %.2f, "rps": %.0f}\n',
    ok, bad, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.requests / (summary.duration / 1e6)))
end

-- GET /v1/authz with one of WRK_TOKEN_COUNT synthetic opaque access
-- tokens: "tsa_" and the index as 43 decimal digits (a valid opaque shape;
-- bench/sessions.py stores the SHA-256 of each). WRK_TOKEN_MODE=random
-- picks any at random; =seq walks them in order from WRK_TOKEN_START,
-- thread t taking START + t, START + t + T, ... (the report line then
-- ends with `next=`, the lowest index a thread would have sent next).
local count = tonumber(os.getenv("WRK_TOKEN_COUNT"))
local mode = os.getenv("WRK_TOKEN_MODE") or "random"
local start = tonumber(os.getenv("WRK_TOKEN_START") or "0")
local threads = {}
local nthreads = 0
function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  threads[#threads + 1] = thread
end

local step
function init(args)
  step = tonumber(os.getenv("WRK_THREADS_N"))
  cursor = start + id -- global: done() reads it with thread:get
  math.randomseed(os.time() + id * 7919)
end

wrk.headers["X-Original-Method"] = "GET"
wrk.headers["X-Original-URI"] = "/api/hosts"

function request()
  local n
  if mode == "seq" then
    n = cursor % count
    cursor = cursor + step
  else
    n = math.random(0, count - 1)
  end
  wrk.headers["Authorization"] = string.format("Bearer tsa_%043d", n)
  return wrk.format("GET", "/v1/authz")
end

function report_extra()
  local low
  for _, t in ipairs(threads) do
    local v = t:get("cursor")
    if low == nil or v < low then low = v end
  end
  io.write(string.format(" next=%d", low or start))
end

-- refresh_token grants with rotation: every answer carries a new refresh
-- token, which is the next one sent. wrk's request()/response() are per
-- thread, not per connection, so each thread keeps a pool of refresh
-- tokens (one login each, from WRK_TOKENS, one a line): request() takes
-- one, response() puts the rotated one back. A connection has at most one
-- request in flight, so a pool at least as large as the thread's
-- connections never runs dry (wrk also calls request() once at start to
-- check it: give one more token per thread). An empty pool sends "none",
-- which the server refuses (counted as an error). Client credentials via
-- -H Authorization.
local file = os.getenv("WRK_TOKENS")
local all = {}
for line in io.lines(file) do
  if #line > 0 then all[#all + 1] = line end
end
local nthreads = 0
function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
end

local pool = {}
function init(args)
  local threads = tonumber(os.getenv("WRK_THREADS_N"))
  for i = 1, #all do
    if (i - 1) % threads == id then pool[#pool + 1] = all[i] end
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function request()
  local token = table.remove(pool) or "none"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body and string.match(body, '"refresh_token":"([^"]+)"')
  if token then pool[#pool + 1] = token end
end

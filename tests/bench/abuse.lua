-- wrk script: anonymous abuse of every unauthenticated POST, round-robin, each request with
-- its own host, session cookie and CSRF token (fetched beforehand by abuse.sh, as an
-- attacker would: a GET of the form), so requests get past the CSRF check to what is
-- behind it (rate limits, password hashing, mail). Counts the statuses it got back.
--
-- ABUSE_REQUESTS names a file of lines: method, host, path, cookie, body (tab-separated).

local requests = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  local file = assert(io.open(os.getenv("ABUSE_REQUESTS"), "r"))
  for line in file:lines() do
    local method, host, path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {
      ["Host"] = host,
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Origin"] = "http://" .. host,
    }
    if cookie ~= "" then headers["Cookie"] = cookie end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  file:close()
  at = 0
end

function request()
  at = at % #requests + 1
  return requests[at]
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local line = "abuse answered:"
  for status, n in pairs(total) do
    line = line .. string.format(" %d×%d", n, status)
  end
  print(line)
end

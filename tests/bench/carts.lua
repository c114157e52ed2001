-- wrk script: every request looks at another shopper's cart (one cookie per line of the
-- file named by CART_COOKIES), so no cart page is a repeat look. wrk's threads take turns
-- through the list.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Every request is built here, before the clock runs: wrk shares the machine with the
  -- server, and building one per request in Lua would cost it more than the server's
  -- baseline page does.
  local step = tonumber(os.getenv("WRK_THREADS") or "2")
  requests = {}
  local n = 0
  for line in io.lines(os.getenv("CART_COOKIES")) do
    n = n + 1
    if (n - 1) % step == id then
      requests[#requests + 1] = wrk.format("GET", "/cart", { ["Cookie"] = line })
    end
  end
  next_request = 1
  exhausted = false
end

function request()
  if next_request > #requests then
    -- Out of fresh carts: start over (repeat looks), and say so at the end.
    next_request = 1
    exhausted = true
  end
  local r = requests[next_request]
  next_request = next_request + 1
  return r
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("exhausted") then
      io.stderr:write("carts.lua: ran out of fresh carts, some looks were repeats\n")
      return
    end
  end
end

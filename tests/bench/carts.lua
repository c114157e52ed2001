-- wrk script: every request looks at another shopper's cart (one cookie per line of the
-- file named by CART_COOKIES), so no cart page is a repeat look. wrk's threads take turns
-- through the list.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  cookies = {}
  for line in io.lines(os.getenv("CART_COOKIES")) do
    cookies[#cookies + 1] = line
  end
  step = tonumber(os.getenv("WRK_THREADS") or "2")
  next_cookie = id + 1
  exhausted = false
end

function request()
  if next_cookie > #cookies then
    -- Out of fresh carts: start over (repeat looks), and say so at the end.
    next_cookie = id + 1
    exhausted = true
  end
  local cookie = cookies[next_cookie]
  next_cookie = next_cookie + step
  return wrk.format("GET", "/cart", { ["Cookie"] = cookie })
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("exhausted") then
      io.stderr:write("carts.lua: ran out of fresh carts, some looks were repeats\n")
      return
    end
  end
end

-- wrk script: every request is the next line of the file named by PATHS ("host<TAB>path"
-- per line), so a run walks many pages instead of one: random products of the whole
-- catalog, random collection pages, varied search queries, the pages a crawler finds in
-- the sitemap, pages of random stores. With SHUFFLE=1 each wrk thread takes the lines in
-- its own random order (seeded by SEED, so runs are alike); otherwise in the file's order,
-- the threads taking turns. A thread at the end of its lines starts over. A third field on
-- a line is sent as the request's Cookie header.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Every request is built here, before the clock runs (see carts.lua).
  local step = tonumber(os.getenv("WRK_THREADS") or "2")
  local shuffle = os.getenv("SHUFFLE") == "1"
  requests = {}
  local n = 0
  for line in io.lines(os.getenv("PATHS")) do
    n = n + 1
    if shuffle or (n - 1) % step == id then
      local host, path, cookie = line:match("^([^\t]+)\t([^\t]+)\t?(.*)$")
      if not host then
        error("not a host<TAB>path line: " .. line)
      end
      local headers = { ["Host"] = host }
      if cookie ~= "" then
        headers["Cookie"] = cookie
      end
      requests[#requests + 1] = wrk.format("GET", path, headers)
    end
  end
  if shuffle then
    math.randomseed(1000 * tonumber(os.getenv("SEED") or "1") + id)
    for i = #requests, 2, -1 do
      local j = math.random(i)
      requests[i], requests[j] = requests[j], requests[i]
    end
  end
  next_request = 1
end

function request()
  if next_request > #requests then
    next_request = 1
  end
  local r = requests[next_request]
  next_request = next_request + 1
  return r
end

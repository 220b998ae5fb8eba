-- Refresh with rotation under wrk: each request spends one refresh token and its answer's
-- successor goes back in the thread's queue, so every token is used exactly once. The tokens
-- (one session each, at least as many as connections) come from the file in TOKENS.
local queue, head, tail = {}, 1, 0
local thread_index = 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
end

function init(args)
  local n, i = tonumber(os.getenv("THREADS") or "2"), 0
  for line in io.lines(os.getenv("TOKENS")) do
    if i % n == index - 1 then
      tail = tail + 1
      queue[tail] = line
    end
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
end

function request()
  local token = queue[head]
  queue[head] = nil
  head = head + 1
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local next_token = body:match('"refresh_token":"([^"]+)"')
  if next_token then
    tail = tail + 1
    queue[tail] = next_token
  end
end

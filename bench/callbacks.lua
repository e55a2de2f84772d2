-- wrk script for bench/ingest.py: cycle through pre-rendered, distinct, signed callbacks and
-- count every answer that is not HTTP 200 "success".
--   BENCH_REQUESTS_FILE=requests.bin wrk -t1 -c64 -d8s --latency -s bench/callbacks.lua URL -- <threads>
-- The file holds records "<length>\n<raw HTTP request bytes>"; thread k of n takes records k, k+n, ...

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[1]) or 1
  local path = os.getenv("BENCH_REQUESTS_FILE")
  local file = assert(io.open(path, "rb"), "cannot open BENCH_REQUESTS_FILE")
  local data = file:read("*a")
  file:close()
  reqs = {}
  local pos, i = 1, 0
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    if i % nthreads == id then
      reqs[#reqs + 1] = string.sub(data, nl + 1, nl + len)
    end
    i = i + 1
    pos = nl + 1 + len
  end
  idx = 0
  wrapped = 0
  bad = 0
  answered = 0
end

function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    wrapped = wrapped + 1
  end
  return reqs[idx]
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 or body ~= "success" then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total, wrapped_total, answered_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    wrapped_total = wrapped_total + thread:get("wrapped")
    answered_total = answered_total + thread:get("answered")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "answered": %d, "duration_us": %d, "bad_answers": %d, "wrapped": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
      .. '"p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "max_us": %.1f}\n',
    summary.requests, answered_total, summary.duration, bad_total, wrapped_total,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

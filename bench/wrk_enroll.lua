-- wrk script for the EST server ceiling: POST /simpleenroll with keep-alive, a distinct CSR per
-- request (the test server answers a byte-identical CSR from its retransmission cache, which
-- would measure a dictionary lookup, not an enrollment).
--
-- usage: wrk -t T -c C -d D -s bench/wrk_enroll.lua URL -- T CSR_FILE
--   CSR_FILE: one PEM CSR per line with newlines replaced by '|'
--   BENCH_BASIC_TOKEN (environment): base64 of the passcode (DTM style: passcode alone)

wrk.method = "POST"
wrk.headers["Authorization"] = "Basic " .. (os.getenv("BENCH_BASIC_TOKEN") or "")
wrk.headers["Content-Type"] = "text/plain"

local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(args[1])
  bodies = {}
  local i = 0
  for line in io.lines(args[2]) do
    if i % nthreads == tid then
      bodies[#bodies + 1] = (line:gsub("|", "\n"))
    end
    i = i + 1
  end
  idx = 0
end

function request()
  idx = idx + 1
  if idx > #bodies then
    idx = 1 -- reused CSRs would hit the retransmission cache; the caller checks issued == requests
  end
  return wrk.format(nil, nil, nil, bodies[idx])
end

function done(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d " ..
    "write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

-- Shared by the wrk scripts of tests/bench/run: the bearer token and the summary line.
--   TX_BENCH_TOKEN  access token (empty or unset: no Authorization header)
-- done() prints one line "TXBENCH {json}" that tests/bench/report.mjs reads: wrk's own
-- counters, latencies in microseconds. "non2xx" is wrk's errors.status, which counts responses
-- with a status above 399 (the benchmarked routes answer no 1xx or 3xx).
local M = {}

function M.auth()
  local token = os.getenv("TX_BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

-- A seed that differs between wrk's threads (each has its own Lua state) and between runs.
function M.seed()
  local addr = tostring({}):match("0x(%x+)") or "0"
  math.randomseed(os.time() + tonumber(addr:sub(-6), 16))
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'TXBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end

return M

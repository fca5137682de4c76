-- POST /v1/cases/{id}/assess {in_scope: true, business_type_id} (P1.2: received -> intake, a move
-- of the state machine `case` with its checks, the fsm.log row and the audit trail): every
-- request moves a case of its own, never twice. The ids (TX_BENCH_IDS, one per line: the pool of
-- received cases of tests/bench/load_cases.sql, caller staff.a1) are dealt to wrk's threads in
-- turn; TX_BENCH_IDS.used keeps how many a run used, so that the next run (the measured one after
-- the warm-up) starts after them. Running out shows as non-2xx answers (409), never silently.
package.path = os.getenv("TX_BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
common.auth()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"in_scope":true,"business_type_id":"%s"}', os.getenv("TX_BENCH_TYPE"))

local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function used_file() return os.getenv("TX_BENCH_IDS") .. ".used" end
local function read_used()
  local f = io.open(used_file(), "r")
  if not f then return 0 end
  local n = tonumber(f:read("*l")) or 0
  f:close()
  return n
end

local ids = {}
local nthreads = 2 -- tests/bench/run runs wrk -t2
-- i, the thread's next index into ids, is a global: done() reads it with thread:get.

function init(args)
  local f = assert(io.open(os.getenv("TX_BENCH_IDS"), "r"))
  for line in f:lines() do
    ids[#ids + 1] = line
  end
  f:close()
  i = read_used() + tid + 1
end

function request()
  local id = ids[i] or "00000000-0000-4000-8000-000000000000" -- out of ids: a visible 404
  i = i + nthreads
  return wrk.format(nil, "/v1/cases/" .. id .. "/assess")
end

function done(summary, latency, requests)
  local used = read_used()
  for _, t in ipairs(threads) do
    local last = t:get("i")
    if last and last - 1 > used then used = last - 1 end
  end
  local f = assert(io.open(used_file(), "w"))
  f:write(tostring(used), "\n")
  f:close()
  common.done(summary, latency, requests)
end

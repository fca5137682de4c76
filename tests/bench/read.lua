-- GET /v1/customers/{id}: random ids of customers the caller owns, one per line in the file
-- TX_BENCH_IDS (written by tests/bench/load.c), with the token of TX_BENCH_TOKEN.
package.path = os.getenv("TX_BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
common.auth()

local ids = {}

function init(args)
  local f = assert(io.open(os.getenv("TX_BENCH_IDS"), "r"))
  for line in f:lines() do
    ids[#ids + 1] = line
  end
  f:close()
  assert(#ids > 0, "no ids in " .. os.getenv("TX_BENCH_IDS"))
  common.seed()
end

function request()
  return wrk.format("GET", "/v1/customers/" .. ids[math.random(#ids)])
end

done = common.done

-- One fixed GET (the path is in wrk's URL), with the token of TX_BENCH_TOKEN when set:
-- scenarios list_first, list_deep, search, search_common and floor of tests/bench/run.
package.path = os.getenv("TX_BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
common.auth()
done = common.done

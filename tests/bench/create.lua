-- POST /v1/customers with PII to encrypt: every request a new customer with two contacts and a
-- credit code, all unique (a duplicate would be a 409): phones 19<thread><8 digits>, e-mails with
-- the thread, the run and a counter, credit codes "92..." (the loader's start "91") with a valid
-- GB 32100 check digit. The same fields as the pgbench reference's payload (load.c --template).
package.path = os.getenv("TX_BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
common.auth()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads % 10)
end

local alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
local weights = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

-- "92" (individual business), a region, 9 characters from v, the check digit.
local function credit_code(v)
  local chars = {}
  for i = 9, 1, -1 do
    chars[i] = alphabet:sub(v % 31 + 1, v % 31 + 1)
    v = math.floor(v / 31)
  end
  local code = "92310115" .. table.concat(chars)
  local sum = 0
  for i = 1, 17 do
    sum = sum + (alphabet:find(code:sub(i, i), 1, true) - 1) * weights[i]
  end
  local check = (31 - sum % 31) % 31
  return code .. alphabet:sub(check + 1, check + 1)
end

local base, counter, run
-- TX_BENCH_COMPANY (tests/bench/run: CREATE_COMPANY): a company no search term of the run
-- matches, so that the customers a round creates leave the next round's searches as they were.
local company = os.getenv("TX_BENCH_COMPANY")

-- base: the run's start second times 2 000. A thread's counter steps by 2 and a thread creates
-- far fewer than 1 000 customers a second, so a run's numbers never meet those of an earlier run
-- on the same cluster (for 50 000 seconds: the phones hold 10^8 numbers). A random base met an
-- earlier run's range now and then, and every request of the overlap was a duplicate answered 409
-- (a tests/bench/versus run stopped on 66 of them, 2026-12-07).
function init(args)
  common.seed()
  base = (os.time() % 50000) * 2000
  run = math.random(0, 999999)
  counter = 0
end

function request()
  counter = counter + 2
  local n = base + counter
  local body = string.format(
    '{"name":"张伟","company_name":"' .. company .. '",' ..
    '"business_scope":"电子产品、计算机软硬件的技术开发、销售；技术咨询、技术服务。",' ..
    '"status":"prospect","tags":["新客户","制造业"],"source":"展会",' ..
    '"needs":"希望降低采购成本，关注交货周期。","address":"上海市浦东新区张江路88号B座",' ..
    '"credit_code":"%s","contacts":[' ..
    '{"name":"李娜","position":"总经理","phone":"19%d%08d","email":"bench.%d.%d.%d@create.example.cn"},' ..
    '{"name":"Emily Chen","position":"Purchasing Manager","phone":"19%d%08d",' ..
    '"email":"bench.%d.%d.%d@create.example.cn"}]}',
    credit_code(tid * 1000000000 + n), tid, n % 100000000, tid, run, n,
    tid, (n + 1) % 100000000, tid, run, n + 1)
  return wrk.format(nil, "/v1/customers", nil, body)
end

done = common.done

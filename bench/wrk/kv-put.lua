-- wrk script for KV PUT: wrk -t1 -c64 -d10s -s bench/wrk/kv-put.lua http://127.0.0.1:8500
-- (64-byte values over 1000 keys under bench/, as rconsul-bench kv-put does).
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("PUT", "/v1/kv/bench/" .. (counter % 1000), nil, string.rep("x", 64))
end

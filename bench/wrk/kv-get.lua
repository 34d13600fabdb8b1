-- wrk script for KV GET over the keys kv-put.lua writes:
-- wrk -t1 -c64 -d10s -s bench/wrk/kv-get.lua http://127.0.0.1:8500
-- (run kv-put.lua first, or preload bench/0 .. bench/999, as rconsul-bench kv-get does).
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/v1/kv/bench/" .. (counter % 1000))
end

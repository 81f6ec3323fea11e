-- The request mix of `manage.py benchmark` for wrk (pools/benchmark/wrk.py runs it):
--   wrk ... -s send.lua URL -- PATH KEY KNOWN MAPPINGS NEW_BASE CODES THREADS
-- Each request texts a known recipient (one with a sticky mapping: an index below
-- MAPPINGS) with probability KNOWN, else a new one. The phone numbers are those of
-- pools/benchmark/seed.py: recipient `index` is in area code CODES[index % #CODES], on
-- line start + index // #CODES. New recipient indexes are NEW_BASE + n * THREADS + the
-- thread's id, so two threads never text the same one; done() reports how many each
-- thread used, and the next run starts after them.
-- done() prints one line, `BENCHMARK {json}`, for the command to read.

local KNOWN_START = 2000000
local NEW_START = 6000000

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

local function split(text)
   local items = {}
   for item in string.gmatch(text, "[^,]+") do
      table.insert(items, item)
   end
   return items
end

function init(args)
   path, known, mappings = args[1], tonumber(args[3]), tonumber(args[4])
   new_base, codes, thread_count = tonumber(args[5]), split(args[6]), tonumber(args[7])
   headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2]}
   used, non_2xx, first_error = 0, 0, ""
   math.randomseed(new_base + id * 7919)
end

local function recipient(index, start)
   local count = #codes
   return string.format("+1%s%07d", codes[index % count + 1], start + math.floor(index / count))
end

function request()
   local to
   if math.random() < known then
      to = recipient(math.random(0, mappings - 1), KNOWN_START)
   else
      to = recipient(new_base + used * thread_count + id, NEW_START)
      used = used + 1
   end
   local body = '{"to":"' .. to .. '","body":"Your verification code is 482913."}'
   return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non_2xx = non_2xx + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

local function json_string(text)
   local escaped = string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
   local non_2xx_total, new_used, first = 0, 0, ""
   for _, thread in ipairs(threads) do
      non_2xx_total = non_2xx_total + thread:get("non_2xx")
      new_used = math.max(new_used, thread:get("used"))
      if first == "" then
         first = thread:get("first_error")
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCHMARK {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
         .. '"p50_us": %d, "p99_us": %d, "new_used": %d, "first_error": %s}\n',
      summary.requests, summary.duration, non_2xx_total,
      errors.connect + errors.read + errors.write + errors.timeout,
      latency:percentile(50), latency:percentile(99), new_used, json_string(first)
   ))
end

-- A do-it-yourself balance gate for the bench, the kind an operator
-- writes with lua-nginx-module when no module does it: a timer in each
-- worker polls the provider's balance endpoint with a cosocket HTTP/1.0
-- client (Debian packages no lua-resty-http) and keeps the balance in a
-- shared dict; access_by_lua refuses while the balance cannot pay.
--
-- It is what bench/run compares the module with, not a product: no TLS,
-- no lease between workers, no debit of what is in flight.

local M = {}

local dict = ngx.shared.diy_gate

local function poll(premature, host, port, path, key)
    if premature then
        return
    end

    local sock = ngx.socket.tcp()
    sock:settimeout(5000)

    local ok, err = sock:connect(host, port)
    if not ok then
        ngx.log(ngx.ERR, "diy_gate: connect: ", err)
        return
    end

    sock:send("GET " .. path .. " HTTP/1.0\r\nHost: " .. host
              .. "\r\nAuthorization: Bearer " .. key .. "\r\n\r\n")

    local status = sock:receive("*l")
    local len

    while true do
        local line = sock:receive("*l")
        if not line or line == "" then
            break
        end

        local v = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
        if v then
            len = tonumber(v)
        end
    end

    local body
    if len then
        body = sock:receive(len)
    else
        body = sock:receive("*a")
    end

    sock:close()

    local balance = body and tonumber(body:match('"data"%s*:%s*(%-?[%d.]+)'))

    if status and status:match("^HTTP/1%.%d 200") and balance then
        dict:set("balance", balance)
    else
        ngx.log(ngx.ERR, "diy_gate: bad answer: ", status)
    end
end

function M.start(host, port, path, interval)
    local key = os.getenv("KIE_API_KEY") or ""

    ngx.timer.at(0, poll, host, port, path, key)
    ngx.timer.every(interval, poll, host, port, path, key)
end

function M.check(cost)
    local balance = dict:get("balance")

    if balance == nil or balance < cost then
        ngx.header["Retry-After"] = "60"
        return ngx.exit(503)
    end
end

return M

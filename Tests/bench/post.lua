-- wrk: keep-alive POSTs of the benchmark's payload (the body file is given as an argument).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function init(args)
    local f = assert(io.open(args[1], "rb"))
    wrk.body = f:read("*a")
    f:close()
end

-- wrk script: sign-ins (POST /api/v1/auth/login), each request as the next of the 20 accounts seed.py
-- invited, as 20 people signing in at once would be.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local sent = 0
request = function()
  sent = sent + 1
  local body = string.format('{"email":"signin%d@example.com","password":"bench-password-123"}', sent % 20)
  return wrk.format(nil, nil, nil, body)
end

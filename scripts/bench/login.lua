-- wrk script: sign-ins (POST /api/v1/auth/login) with the bench account.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.com","password":"bench-password-123"}'

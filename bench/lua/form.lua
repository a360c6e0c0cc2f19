-- POST an application/x-www-form-urlencoded body, the same every request:
-- WRK_BODY (a password or client_credentials grant). Headers via -H.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

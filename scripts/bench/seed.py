#!/usr/bin/env python3
"""Seeds a Wheelhouse workspace through the REST API for the benchmarks: N sources, each connected to M
destinations of its own (with secrets), a data-plane token, and SIGN_IN_ACCOUNTS members who joined by invite
(signin0@example.com…, password as the owner's; the invite mails are read from the server's outbox folder).
Prints JSON for scripts/bench/run."""

import email as mail_parser
import glob
import json
import os
import re
import sys
import time
import urllib.request

base, email, password, outbox = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
n_sources = int(sys.argv[5]) if len(sys.argv) > 5 else 100
per_source = int(sys.argv[6]) if len(sys.argv) > 6 else 5
SIGN_IN_ACCOUNTS = 20


def call(method, path, body=None, token=None, cookie=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if cookie:
        req.add_header("Cookie", cookie)
        req.add_header("Origin", base)
    with urllib.request.urlopen(req) as resp:
        text = resp.read()
        return json.loads(text) if text else None, resp.headers


me, headers = call("POST", "/api/v1/auth/login", {"email": email, "password": password})
cookie = headers["Set-Cookie"].split(";")[0]
ws = me["workspaces"][0]["id"]
api_token = call("POST", "/api/v1/tokens", {"name": "bench", "workspaceId": ws, "role": "admin"}, cookie=cookie)[0]["token"]

# A realistic mix: cloud analytics and marketing tools with secrets, and webhooks with secret headers.
kinds = [
    ("AM", lambda i: {"apiKey": f"amp-key-{i}", "apiSecret": f"amp-secret-{i}", "residencyServer": "standard"}),
    ("WEBHOOK", lambda i: {"webhookUrl": f"https://hooks.example.com/{i}", "webhookMethod": "POST",
                           "headers": [{"from": "Authorization", "to": f"Bearer hook-secret-{i}"}]}),
    ("MP", lambda i: {"token": f"mp-token-{i}", "dataResidency": "us", "identityMergeApi": "simplified",
                      "gdprApiToken": f"mp-gdpr-{i}"}),
    ("BRAZE", lambda i: {"appKey": f"braze-app-{i}", "restApiKey": f"braze-rest-{i}", "dataCenter": "US-03"}),
    ("GA4", lambda i: {"apiSecret": f"ga4-secret-{i}", "typesOfClient": "gtag", "measurementId": f"G-{i:08d}"}),
]
for s in range(n_sources):
    source = call("POST", f"/api/v1/workspaces/{ws}/sources", {"name": f"Site {s}", "type": "Javascript"}, token=api_token)[0]
    for d in range(per_source):
        kind, config = kinds[d % len(kinds)]
        i = s * per_source + d
        dest = call("POST", f"/api/v1/workspaces/{ws}/destinations",
                    {"name": f"{kind} {i}", "type": kind, "config": config(i)}, token=api_token)[0]
        call("POST", f"/api/v1/workspaces/{ws}/connections",
             {"sourceId": source["id"], "destinationId": dest["id"]}, token=api_token)

# People to sign in concurrently: one account each, as 20 people signing in at once would be.
for n in range(SIGN_IN_ACCOUNTS):
    call("POST", f"/api/v1/workspaces/{ws}/invites", {"email": f"signin{n}@example.com", "role": "viewer"}, token=api_token)
tokens = {}
for _ in range(100):
    for path in glob.glob(os.path.join(outbox, "*.eml")):
        with open(path, "rb") as f:
            message = mail_parser.message_from_bytes(f.read())
        body = message.get_payload(decode=True).decode()
        link = re.search(r"/invite\?token=([\w.-]+)", body)
        if link and message["To"].startswith("signin"):
            tokens[message["To"]] = link.group(1)
    if len(tokens) == SIGN_IN_ACCOUNTS:
        break
    time.sleep(0.1)
for to, token in tokens.items():
    call("POST", "/api/v1/invites/accept", {"token": token, "name": to.split("@")[0], "password": password})

dp_token = call("POST", f"/api/v1/workspaces/{ws}/data-plane-tokens", {"name": "bench"}, token=api_token)[0]["token"]
print(json.dumps({"workspaceId": ws, "apiToken": api_token, "dataPlaneToken": dp_token, "destinationId": dest["id"]}))

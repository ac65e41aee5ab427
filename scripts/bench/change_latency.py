#!/usr/bin/env python3
"""How soon a config change is served: PATCH a destination through the API, then poll the data plane's config
until the new value is there. Reports milliseconds from the start of the API call, over N changes.

    change_latency.py <base> <api token> <data-plane credential> <workspace> <destination> [rounds] [namespace]

With a namespace, the credential is its secret and the poll is the namespace's full config."""

import base64
import json
import sys
import time
import urllib.request

base, api_token, dp_token, ws, destination = sys.argv[1:6]
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 50
namespace = sys.argv[7] if len(sys.argv) > 7 else None
config_url = (f"{base}/data-plane/v1/namespaces/{namespace}/config" if namespace
              else f"{base}/workspaceConfig?fetchAll=true")
basic = "Basic " + base64.b64encode((dp_token + ":").encode()).decode()


def patch(name):
    req = urllib.request.Request(f"{base}/api/v1/workspaces/{ws}/destinations/{destination}",
                                 data=json.dumps({"name": name}).encode(), method="PATCH")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", "Bearer " + api_token)
    urllib.request.urlopen(req).read()


def served(name):
    req = urllib.request.Request(config_url)
    req.add_header("Authorization", basic)
    return f'"name":"{name}"'.encode() in urllib.request.urlopen(req).read()


after_call, after_response = [], []
for i in range(rounds):
    name = f"renamed-{time.time_ns()}"
    start = time.perf_counter()
    patch(name)
    answered = time.perf_counter()
    while not served(name):
        pass
    seen = time.perf_counter()
    after_call.append((seen - start) * 1000)
    after_response.append((seen - answered) * 1000)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


what = f"namespace {namespace}" if namespace else "/workspaceConfig"
print(f"config change -> served by {what}, over {rounds} changes (ms from the start of the PATCH):"
      f" p50 {pct(after_call, 50):.1f}  p99 {pct(after_call, 99):.1f}  max {max(after_call):.1f}")
print(f"  of which after the PATCH answered: p50 {pct(after_response, 50):.1f}  max {max(after_response):.1f}"
      " (the first poll after the answer already has the change)")

#!/usr/bin/env python3
"""Adds many workspaces to a stopped Wheelhouse's SQLite database, for the scale benchmark: each with
`sources` JavaScript sources and as many destinations (Amplitude and webhooks, alternating: configs without
secret fields), source i connected to destination i, and one data-plane token (`whk_dp_scale<n>`, so the
benchmark can poll any of them). Rows go in directly, in a few transactions: seeding 10,000 workspaces through
the API would take longer than the benchmark itself, and what is measured is how the server loads and serves
them, not how they were made.

    scale_seed.py <sqlite file> <workspaces> <sources per workspace> <owner email>

The owner (an existing account) is made a member of the first seeded workspace, so that the benchmark can
change it through the API. Prints JSON: that workspace's id and data-plane token, and a destination of it."""

import hashlib
import json
import random
import sqlite3
import string
import sys
import time

path, count, per, owner_email = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
rng = random.Random(42)


def new_id():
    return "".join(rng.choice(ALPHABET) for _ in range(27))


now = int(time.time() * 1000)
db = sqlite3.connect(path)
db.execute("PRAGMA synchronous = OFF")
first = None
with db:
    for n in range(count):
        ws = new_id()
        db.execute(
            "INSERT INTO workspaces (id, name, config_updated_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (ws, f"Scale {n}", now, now, now),
        )
        destination_ids = []
        for i in range(per):
            source = new_id()
            db.execute(
                "INSERT INTO sources (id, workspace_id, name, type, config, write_key, enabled, revision_id, created_at, updated_at)"
                " VALUES (?, ?, ?, 'Javascript', '{}', ?, 1, ?, ?, ?)",
                (source, ws, f"Site {i}", new_id(), new_id(), now, now),
            )
            destination = new_id()
            if i % 2 == 0:
                kind, config = "AM", {"apiKey": f"key-{n}-{i}", "residencyServer": "standard", "trackAllPages": False}
            else:
                kind, config = "WEBHOOK", {"webhookUrl": f"https://hooks.example.com/{n}/{i}", "webhookMethod": "POST", "headers": []}
            db.execute(
                "INSERT INTO destinations (id, workspace_id, name, type, config, enabled, revision_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
                (destination, ws, f"{kind} {i}", kind, json.dumps(config), new_id(), now, now),
            )
            db.execute(
                "INSERT INTO connections (id, workspace_id, source_id, destination_id, created_at) VALUES (?, ?, ?, ?, ?)",
                (new_id(), ws, source, destination, now),
            )
            destination_ids.append(destination)
        token = f"whk_dp_scale{n}"
        db.execute(
            "INSERT INTO data_plane_tokens (id, workspace_id, name, token_hash, prefix, created_by, created_at)"
            " VALUES (?, ?, 'scale', ?, ?, 'bench', ?)",
            (new_id(), ws, hashlib.sha256(token.encode()).hexdigest(), token[:13], now),
        )
        if first is None:
            first = {"workspaceId": ws, "dataPlaneToken": token, "destinationId": destination_ids[0]}
            db.execute(
                "INSERT INTO memberships (workspace_id, user_id, role, created_at)"
                " SELECT ?, id, 'owner', ? FROM users WHERE email = ?",
                (ws, now, owner_email),
            )
print(json.dumps(first))

#!/usr/bin/env python3
"""A real SMTP server for the integration tests (aiosmtpd).

    python3 tests/smtp/sink.py <directory> [port]

Listens on 127.0.0.1 on the port given (tests that first let mail fail pick one that nothing listens on), or
on one the OS picks, prints that port as its first line of stdout, and writes every
message it receives into <directory> as one JSON file: {"from", "to": [...], "subject", "messageId", "body", "html"}
(the body is the decoded text/plain part, html the text/html part or null). Files appear atomically (written under a temporary name, then renamed).

It exits when its standard input closes, so that it never outlives the test process that started it, even if
that process is killed.
"""

import asyncio
import email
import json
import os
import sys
import uuid
from email import policy

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=policy.default)
        part = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message.get("subject", "")),
            "messageId": str(message.get("message-id", "")),
            "body": part.get_content() if part is not None else "",
            "html": html.get_content() if html is not None else None,
        }
        name = uuid.uuid4().hex
        temporary = os.path.join(self.directory, name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(temporary, os.path.join(self.directory, name + ".json"))
        return "250 Message accepted"


async def main(directory, port):
    os.makedirs(directory, exist_ok=True)
    loop = asyncio.get_running_loop()
    sink = Sink(directory)
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="wheelhouse-tests-sink"), host="127.0.0.1", port=port
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    # Stop when the parent goes away (stdin reaches end of file).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: sink.py <directory> [port]")
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 0))

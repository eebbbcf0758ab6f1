"""A real SMTP server for the notification tests (aiosmtpd), writing what it accepts.

Each accepted message becomes <dir>/<n>.eml (the raw message) and <n>.json (envelope,
headers and every MIME leaf decoded), written atomically so a reader never sees half.
Control files in <dir>, checked on every command:
  pause   while it exists, MAIL FROM is held (the client waits, nothing is accepted);
          <dir>/waiting exists while a client is held
  reject  while it exists, RCPT TO is refused with 550 (a permanent failure)
  slow    while it exists, DATA waits 300 ms before storing and answering
Prints "ready <port>" on stdout once it listens.
"""

import argparse
import asyncio
import itertools
import json
import os
from email import policy
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, directory):
        self.dir = directory
        self.counter = itertools.count(1)

    def _flag(self, name):
        return os.path.exists(os.path.join(self.dir, name))

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        waiting = os.path.join(self.dir, "waiting")
        while self._flag("pause"):
            open(waiting, "w").close()
            await asyncio.sleep(0.05)
        if os.path.exists(waiting):
            os.remove(waiting)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._flag("reject"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self._flag("slow"):
            await asyncio.sleep(0.3)
        n = next(self.counter)
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        summary = {
            "n": n,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {k.lower(): str(v) for k, v in message.items()},
            "structure": structure(message),
            "parts": [leaf(p) for p in message.walk() if not p.is_multipart()],
        }
        stem = os.path.join(self.dir, "%06d" % n)
        write_atomically(stem + ".eml", raw)
        write_atomically(stem + ".json", json.dumps(summary, indent=1).encode())
        return "250 2.0.0 Message accepted for delivery"


def structure(part):
    if part.is_multipart():
        return "%s[%s]" % (
            part.get_content_type(),
            ",".join(structure(p) for p in part.iter_parts()),
        )
    return part.get_content_type()


def leaf(part):
    try:
        body = part.get_content()
    except Exception:  # noqa: BLE001 - an undecodable part is reported, not fatal
        body = part.get_payload(decode=True)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return {
        "content_type": part.get_content_type(),
        "params": {k: v for k, v in part.get_params() or [] if v},
        "filename": part.get_filename(),
        "disposition": part.get_content_disposition(),
        "transfer_encoding": part.get("Content-Transfer-Encoding"),
        "body": body,
    }


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args.dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", ident="switchboard test sink"),
        host="127.0.0.1",
        port=args.port,
    )
    port = server.sockets[0].getsockname()[1]
    print("ready %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

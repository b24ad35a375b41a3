"""Local receivers for the alert tests: an HTTP server that records every POST (webhook and
Slack payloads), and an SMTP server (aiosmtpd) that requires STARTTLS and AUTH, with a
throw-away certificate made here. Everything received is appended to DIR/received.jsonl; the
ports and the certificate's path are written to DIR/ready.json once both listen.

Usage: receivers.py DIR USER PASSWORD
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

directory, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()


def record(entry):
    entry["received_at"] = time.time()
    with lock, open(f"{directory}/received.jsonl", "a") as out:
        out.write(json.dumps(entry) + "\n")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        record({"channel": "http", "path": self.path, "content_type": self.headers.get("Content-Type"), "json": document})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Mailbox:
    async def handle_DATA(self, server, session, envelope):
        record({
            "channel": "smtp",
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "message": envelope.content.decode("utf-8", "replace"),
        })
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


subprocess.run(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
     "-keyout", f"{directory}/smtp-key.pem", "-out", f"{directory}/smtp-cert.pem", "-days", "1", "-subj", "/CN=localhost",
     "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    check=True, capture_output=True)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(f"{directory}/smtp-cert.pem", f"{directory}/smtp-key.pem")

http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=http.serve_forever, daemon=True).start()

smtp = Controller(
    Mailbox(), hostname="127.0.0.1", port=0, tls_context=context, require_starttls=True, authenticator=authenticator,
    auth_require_tls=True, auth_required=True)
# Port 0: the controller's ready check needs a real port; take a free one first.
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
smtp.port = probe.getsockname()[1]
probe.close()
smtp.start()

with open(f"{directory}/ready.json.tmp", "w") as out:
    json.dump({"http": http.server_address[1], "smtp": smtp.port, "certificate": f"{directory}/smtp-cert.pem"}, out)
os.rename(f"{directory}/ready.json.tmp", f"{directory}/ready.json")

while True:
    time.sleep(3600)

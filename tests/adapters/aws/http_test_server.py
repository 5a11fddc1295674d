#!/usr/bin/env python3
"""A loopback HTTP(S)/1.1 server for the HTTP client tests.

Routes: /echo (method, path, headers, body and the client's port as JSON),
/slow (answers after 3 s), /close (answers with Connection: close),
/status/<n> (answers with status n), and .../@connections/<id> (410 for ids
starting "gone", 500 for "fail", else 200). Prints "PORT <n>" once listening.
"""
import argparse
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        status = 200
        close = False
        if self.path == "/slow":
            time.sleep(3)
        elif self.path == "/close":
            close = True
        elif self.path.startswith("/status/"):
            status = int(self.path.rsplit("/", 1)[1])
        elif "/@connections/" in self.path:
            # A stand-in for the management API: ids starting "gone" are 410, "fail" are 500.
            connection_id = self.path.rsplit("/", 1)[1]
            status = 410 if connection_id.startswith("gone") else 500 if connection_id.startswith("fail") else 200
        payload = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "client_port": self.client_address[1],
        }).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer
    do_DELETE = _answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

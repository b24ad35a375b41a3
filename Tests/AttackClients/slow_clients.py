"""Clients that misbehave at the socket level, against a service at URL (http or https; a
self-signed certificate is accepted); each mode prints one JSON object with what it saw.

  header URL              sends a request header one byte every half second; meanwhile another
                           client asks for /api/v1/health. {"closedAfter", "answer", "otherStatus", "otherSeconds"}
  body URL                sends a complete header announcing 100000 bytes, then the body one byte every
                           half second. {"closedAfter", "answer", "otherStatus", "otherSeconds"}
  connections URL N        opens up to N keep-alive connections, each asking for /api/v1/health,
                           until one is refused; then asks again on an accepted one, closes them
                           all and opens a new one. {"accepted", "refusedStatus", "refusedAnswer",
                           "againStatus", "afterStatus"}
  declared URL PATH LENGTH TOKEN
                           announces a LENGTH-byte JSON body, sends 64 KiB of it and waits for the
                           answer. {"status", "answer", "seconds"}
"""
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse

TLS = None


def connect(host, port):
    """A connection to the service, through TLS when its URL is https."""
    sock = socket.create_connection((host, port), timeout=10)
    if TLS is None:
        return sock
    return TLS.wrap_socket(sock, server_hostname=host)


def read_answer(sock, limit=10.0):
    """Everything the server sends until it closes or `limit` seconds pass, and when it closed."""
    sock.settimeout(0.2)
    data, started, closed = b"", time.monotonic(), None
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = time.monotonic()
            break
        if not chunk:
            closed = time.monotonic()
            break
        data += chunk
    return data.decode("utf-8", "replace"), closed


def one_response(sock):
    """One HTTP response on a keep-alive connection: its status line's code and its text."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, data.decode("utf-8", "replace")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    status = int(head.split(b" ")[1])
    return status, (head + b"\r\n\r\n" + rest).decode("utf-8", "replace")


def health(host, port):
    started = time.monotonic()
    with connect(host, port) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: attack\r\nConnection: close\r\n\r\n")
        status, _ = one_response(sock)
    return status, round(time.monotonic() - started, 3)


def trickle(host, port, head, drip, limit=30.0):
    """Sends `head` at once, then `drip` one byte every half second until the server closes."""
    other = {}
    sock = connect(host, port)
    sock.sendall(head)
    started = time.monotonic()
    checker = threading.Timer(0.7, lambda: other.update(zip(("status", "seconds"), health(host, port))))
    checker.start()
    closed_after, sent = None, 0
    sock.settimeout(0.5)
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                closed_after = time.monotonic() - started
                break
            answer = chunk.decode("utf-8", "replace")
            rest, _ = read_answer(sock, 2)
            closed_after = time.monotonic() - started
            checker.join()
            return {"closedAfter": round(closed_after, 2), "answer": answer + rest, "otherStatus": other.get("status"), "otherSeconds": other.get("seconds")}
        except socket.timeout:
            pass
        except OSError:
            closed_after = time.monotonic() - started
            break
        try:
            sock.sendall(drip[sent % len(drip):sent % len(drip) + 1])
            sent += 1
        except OSError:
            closed_after = time.monotonic() - started
            break
    checker.join()
    sock.close()
    return {"closedAfter": None if closed_after is None else round(closed_after, 2), "answer": "", "otherStatus": other.get("status"), "otherSeconds": other.get("seconds")}


def connections(host, port, count):
    accepted, refused = [], None
    for _ in range(count):
        sock = connect(host, port)
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: attack\r\n\r\n")
        status, text = one_response(sock)
        if status == 200:
            accepted.append(sock)
            continue
        refused = (status, text)
        sock.close()
        break
    again = 0
    if accepted:
        accepted[0].sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: attack\r\n\r\n")
        again, _ = one_response(accepted[0])
    for sock in accepted:
        sock.close()
    time.sleep(0.5)
    after, _ = health(host, port)
    return {"accepted": len(accepted), "refusedStatus": refused[0] if refused else None, "refusedAnswer": refused[1] if refused else "",
            "againStatus": again, "afterStatus": after}


def declared(host, port, path, length, token):
    head = (f"POST {path} HTTP/1.1\r\nHost: attack\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
            f"Authorization: Bearer {token}\r\napikey: {token}\r\n\r\n").encode()
    started = time.monotonic()
    with connect(host, port) as sock:
        sock.sendall(head + b"[" + b" " * 65535)
        status, text = one_response(sock)
    return {"status": status, "answer": text, "seconds": round(time.monotonic() - started, 3)}


def main():
    global TLS
    mode, url = sys.argv[1], urllib.parse.urlsplit(sys.argv[2])
    host, port = url.hostname, url.port
    if url.scheme == "https":
        TLS = ssl.create_default_context()
        TLS.check_hostname = False
        TLS.verify_mode = ssl.CERT_NONE
    if mode == "header":
        result = trickle(host, port, b"GET /api/v1/health HTTP/1.1\r\nHost: attack\r\n", b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
    elif mode == "body":
        head = b"POST /api/v1/login HTTP/1.1\r\nHost: attack\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        result = trickle(host, port, head, b'{"email":"' + b"a" * 64)
    elif mode == "connections":
        result = connections(host, port, int(sys.argv[3]))
    elif mode == "declared":
        result = declared(host, port, sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

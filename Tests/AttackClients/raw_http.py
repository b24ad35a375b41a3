"""Sends a list of HTTP requests exactly as given (paths are not normalized: `..`, `%2e%2e` and
`%00` reach the server as written) over keep-alive connections, and prints each answer.

Usage: raw_http.py URL REQUESTS.json (URL http or https; a self-signed certificate is accepted). REQUESTS.json is a list of
{"method", "path", "headers": {…}, "body": text or null, "repeat_body": n (the body n times)};
prints a JSON list of {"status", "body" (at most 4000 characters), "headers": {…}, "seconds"} in the
same order. A request the server answered by closing the connection has status 0.
"""
import http.client
import json
import ssl
import sys
import time
import urllib.parse


def main():
    url, path = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2]
    context = None
    if url.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with open(path) as file:
        requests = json.load(file)
    connection = None
    answers = []
    for request in requests:
        body = request.get("body")
        if body is not None:
            body = body.encode("utf-8") * int(request.get("repeat_body", 1))
        started = time.monotonic()
        answer = {"status": 0, "body": "", "headers": {}}
        for attempt in range(2):
            if connection is None:
                if context is None:
                    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
                else:
                    connection = http.client.HTTPSConnection(url.hostname, url.port, timeout=60, context=context)
            try:
                connection.putrequest(request["method"], request["path"], skip_accept_encoding=True)
                headers = request.get("headers") or {}
                for name, value in headers.items():
                    # As UTF-8 bytes: a header may carry what latin-1 cannot (a right-to-left mark).
                    connection.putheader(name, value.encode("utf-8"))
                if body is not None and "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
                response = connection.getresponse()
                text = response.read().decode("utf-8", "replace")
                answer = {"status": response.status, "body": text[:4000], "headers": {k.lower(): v for k, v in response.getheaders()}}
                if response.will_close:
                    connection.close()
                    connection = None
                break
            except (http.client.HTTPException, ConnectionError, OSError) as error:
                connection.close()
                connection = None
                answer = {"status": 0, "body": f"{type(error).__name__}: {error}", "headers": {}}
                # A keep-alive connection the server had closed: once more on a fresh one.
                if attempt == 0 and isinstance(error, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    continue
                break
        answer["seconds"] = round(time.monotonic() - started, 3)
        answers.append(answer)
    print(json.dumps(answers))


if __name__ == "__main__":
    main()

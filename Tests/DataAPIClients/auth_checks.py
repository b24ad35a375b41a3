"""What the auth scripts (supabase_mail.py, supabase_oauth.py) share: named checks that report
`PASS name` / `FAIL name: why` and go on, the assertions they make, and the URL parts they read."""

import sys
import traceback
import urllib.parse

from supabase_auth.errors import AuthError

RESULTS = []


def check(name):
    """Runs the decorated function now as one named check; a failure is reported and the next check runs."""
    def run(function):
        try:
            function()
            RESULTS.append(True)
            print(f"PASS {name}", flush=True)
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the next check runs
            RESULTS.append(False)
            print(f"FAIL {name}: {error}", flush=True)
            traceback.print_exc()
        return function
    return run


def finish():
    """Prints the tally and exits 1 unless every check ran and passed."""
    print(f"{sum(RESULTS)} of {len(RESULTS)} checks passed", flush=True)
    sys.exit(0 if RESULTS and all(RESULTS) else 1)


def equal(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def auth_fails(run, status, code):
    """`run` raises supabase-py's AuthError with this HTTP status and GoTrue code."""
    try:
        result = run()
    except AuthError as error:
        if getattr(error, "status", None) != status or error.code != code:
            raise AssertionError(f"expected {status} {code}, got {getattr(error, 'status', None)} {error.code}: {error.message}") from None
        return
    raise AssertionError(f"expected {status} {code}, got success: {result!r}")


def query(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def fragment(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).fragment))

"""Schemathesis checks of the data API's contract, loaded through SCHEMATHESIS_HOOKS by
schemathesis_check.py: every error answer is PostgREST's four-key object."""

import json

import schemathesis


@schemathesis.check
def error_has_four_keys(ctx, response, case):
    """An error (HTTP 4xx or 5xx) is a JSON object with code, details, hint and message, the code a
    string and the details a string or null (what postgrest-py's error model requires)."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"HTTP {response.status_code} without a JSON body: {response.content[:200]!r}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"HTTP {response.status_code} with a body that is not an object: {body!r}")
    missing = [key for key in ("code", "details", "hint", "message") if key not in body]
    if missing:
        raise AssertionError(f"HTTP {response.status_code} error lacks {missing}: {body}")
    if not isinstance(body["code"], str):
        raise AssertionError(f"HTTP {response.status_code} error code is not a string: {body}")
    if body["details"] is not None and not isinstance(body["details"], str):
        raise AssertionError(f"HTTP {response.status_code} error details is neither a string nor null: {body}")
    return None

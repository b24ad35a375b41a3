"""Schemathesis hooks for the management API (loaded through SCHEMATHESIS_HOOKS by
management_fuzz.py): every error answer has the documented shape, and generated requests stay
within what one test machine can hold."""

import json

import schemathesis


@schemathesis.check
def error_has_documented_shape(ctx, response, case):
    """An error (HTTP 4xx or 5xx) is `{"error": {"code": str, "message": str, "hint"?: str|null, …}}`."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"HTTP {response.status_code} without a JSON body: {response.content[:200]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise AssertionError(f"HTTP {response.status_code} body is not {{\"error\": {{…}}}}: {body!r}"[:400])
    for key in ("code", "message"):
        if not isinstance(error.get(key), str) or not error[key]:
            raise AssertionError(f"HTTP {response.status_code} error lacks a string {key!r}: {error}")
    if error.get("hint") is not None and not isinstance(error["hint"], str):
        raise AssertionError(f"HTTP {response.status_code} error hint is neither a string nor null: {error}")
    return None


@schemathesis.hook
def map_body(ctx, body):
    """Projects and branches the fuzzer creates get small limits (a machine runs every one of them)."""
    if isinstance(body, dict) and isinstance(body.get("settings"), dict):
        body["settings"].pop("maxConnections", None)
        body["settings"].pop("memoryBytes", None)
    return body

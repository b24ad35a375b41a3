#!/usr/bin/env python3
"""The data API's schema document, validated and then fuzzed.

Against a project with Tests/DataAPIClients/schema.sql loaded:
  1. GET {base}/rest/v1/ with the service_role key is a Swagger 2.0 document that
     openapi-spec-validator accepts and that lists the schema's tables, view and functions;
  2. schemathesis generates requests for every operation it describes (examples, coverage and
     fuzzing phases, valid and invalid data) and checks that none answers a server error and that
     every error has PostgREST's four keys (schemathesis_hooks.py).
Prints what it found and exits 1 on any failure.

Environment: SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY; optional SCHEMATHESIS_MAX_EXAMPLES (default
10), SCHEMATHESIS_PHASES (default examples,coverage,fuzzing), SCHEMATHESIS_SEED (default fixed, so
runs repeat), SCHEMATHESIS_WORKERS (default 2).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import httpx
from openapi_spec_validator import OpenAPIV2SpecValidator
from jsonschema_path import SchemaPath

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ["SUPABASE_URL"].rstrip("/")
SERVICE = os.environ["SUPABASE_SERVICE_ROLE_KEY"]
HEADERS = {"apikey": SERVICE, "Authorization": f"Bearer {SERVICE}"}
EXPECTED_PATHS = [
    "/", "/authors", "/author_profiles", "/posts", "/comments", "/tags", "/post_tags", "/notes", "/events",
    "/todos", "/feedback", "/published_posts", "/rpc/add_numbers", "/rpc/posts_by_author", "/rpc/authors_named",
    "/rpc/log_event", "/rpc/whoami", "/rpc/fail_with", "/rpc/payment_required",
]


def fetch_document():
    deadline = time.time() + 20
    while True:
        response = httpx.get(f"{URL}/rest/v1/", headers=HEADERS, timeout=30)
        document = response.json() if response.status_code == 200 else {}
        if "/feedback" in document.get("paths", {}) or time.time() > deadline:
            break
        time.sleep(0.25)  # the schema was just loaded: the API may not see it yet
    if response.status_code != 200:
        raise SystemExit(f"FAIL schema document: HTTP {response.status_code}: {response.text[:500]}")
    return document


def validate(document):
    """Problems with the document: openapi-spec-validator's (Swagger 2.0) and missing paths."""
    problems = [f"swagger is {document.get('swagger')!r}, not '2.0'"] if document.get("swagger") != "2.0" else []
    validator = OpenAPIV2SpecValidator(SchemaPath.from_dict(document))
    for error in validator.iter_errors():
        location = "/".join(str(part) for part in getattr(error, "path", []))
        problems.append(f"openapi-spec-validator: {error.message.splitlines()[0]} (at {location or 'the root'})")
    paths = document.get("paths", {})
    problems += [f"paths lacks {path}" for path in EXPECTED_PATHS if path not in paths]
    return problems


def fuzz(document):
    """Runs schemathesis over the document; returns its exit status."""
    executable = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "openapi.json")
        with open(path, "w") as file:
            json.dump(document, file)
        command = [
            executable, "run", path,
            "--url", f"{URL}/rest/v1",
            "--header", f"apikey: {SERVICE}",
            "--header", f"Authorization: Bearer {SERVICE}",
            "--checks", "not_a_server_error,error_has_four_keys",
            "--phases", os.environ.get("SCHEMATHESIS_PHASES", "examples,coverage,fuzzing"),
            "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"),
            "--seed", os.environ.get("SCHEMATHESIS_SEED", "20240101"),
            "--workers", os.environ.get("SCHEMATHESIS_WORKERS", "2"),
            "--suppress-health-check", "all",
            "--request-timeout", "30",
            "--max-failures", "50",
            "--continue-on-failure",
            "--output-truncate", "true",
            "--report-dir", os.path.join(directory, "report"),
        ]
        environment = {**os.environ, "SCHEMATHESIS_HOOKS": os.path.join(HERE, "schemathesis_hooks.py"), "NO_COLOR": "1"}
        return subprocess.run(command, env=environment, cwd=directory).returncode


def main():
    document = fetch_document()
    problems = validate(document)
    operations = sum(len([method for method in item if method in ("get", "post", "patch", "delete", "put")])
                     for item in document.get("paths", {}).values())
    if problems:
        print("FAIL schema document:")
        for problem in problems:
            print(f"  {problem}")
    else:
        print(f"PASS schema document: valid Swagger 2.0, {len(document['paths'])} paths, {operations} operations")
    sys.stdout.flush()
    status = fuzz(document)
    print(f"{'PASS' if status == 0 else 'FAIL'} schemathesis (exit status {status})")
    sys.exit(1 if problems or status != 0 else 0)


if __name__ == "__main__":
    main()

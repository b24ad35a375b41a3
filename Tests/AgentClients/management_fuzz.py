#!/usr/bin/env python3
"""The management API's OpenAPI document (docs/openapi.json, as the service serves it at
/api/v1/openapi.json), validated and then fuzzed with schemathesis: no request may answer a server
error, and every error must have the documented shape (management_hooks.py).

Environment: BRANCH_URL, BRANCH_TOKEN (the admin key); optional SCHEMATHESIS_MAX_EXAMPLES (default
5), SCHEMATHESIS_PHASES (default examples,coverage,fuzzing), SCHEMATHESIS_SEED (fixed by default, so
runs repeat). Prints what it found and exits 1 on any failure.
"""

import json
import os
import subprocess
import sys
import tempfile

import httpx
from jsonschema_path import SchemaPath
from openapi_spec_validator import OpenAPIV31SpecValidator

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ["BRANCH_URL"].rstrip("/")
TOKEN = os.environ["BRANCH_TOKEN"]


def main():
    response = httpx.get(f"{URL}/api/v1/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"FAIL document: HTTP {response.status_code}: {response.text[:300]}")
    document = response.json()
    problems = [f"{error.message.splitlines()[0]} (at {'/'.join(map(str, error.path)) or 'the root'})"
                for error in OpenAPIV31SpecValidator(SchemaPath.from_dict(document)).iter_errors()]
    for problem in problems:
        print(f"FAIL openapi-spec-validator: {problem}")
    operations = sum(1 for item in document["paths"].values() for method in item if method in ("get", "post", "put", "patch", "delete"))
    print(f"{'FAIL' if problems else 'PASS'} document: OpenAPI {document.get('openapi')}, {operations} operations")
    sys.stdout.flush()

    # `follow=true` keeps a log response open until the client leaves: a stream the fuzzer would
    # wait on until its timeout. The parameter is left out of the fuzzed copy (RuntimeTests follow a log).
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [parameter for parameter in operation["parameters"] if parameter.get("name") != "follow"]

    # Self-update restarts the service, and `upgrade/postgres` restarts every branch server under
    # the other requests' feet: both are left out of the fuzzed copy (UpgradeTests exercises them).
    for path in ("/api/v1/upgrade", "/api/v1/upgrade/postgres"):
        document["paths"].pop(path, None)

    executable = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "openapi.json")
        with open(path, "w") as file:
            json.dump(document, file)
        command = [
            executable, "run", path,
            "--url", URL,
            "--header", f"Authorization: Bearer {TOKEN}",
            "--checks", "not_a_server_error,error_has_documented_shape",
            "--phases", os.environ.get("SCHEMATHESIS_PHASES", "examples,coverage,fuzzing"),
            "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"),
            "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261205"),
            "--workers", "2",
            "--suppress-health-check", "all",
            "--request-timeout", "60",
            "--max-failures", "50",
            "--continue-on-failure",
            "--output-truncate", "true",
            "--report-dir", os.path.join(directory, "report"),
        ]
        environment = {**os.environ, "SCHEMATHESIS_HOOKS": os.path.join(HERE, "management_hooks.py"), "NO_COLOR": "1"}
        status = subprocess.run(command, env=environment, cwd=directory).returncode
    print(f"{'PASS' if status == 0 else 'FAIL'} schemathesis (exit status {status})")
    sys.exit(1 if problems or status != 0 else 0)


if __name__ == "__main__":
    main()

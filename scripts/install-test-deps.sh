#!/usr/bin/env bash
# What the tests need beyond scripts/install-deps.sh, installed when missing (scripts/test.sh runs it
# beside the build). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# From PyPI, in a virtualenv of the repo: the S3 protocol server the backup tests run against
# (moto), and what the data API tests drive it with (Tests/DataAPIClients: Supabase's Python
# client, schemathesis, openapi-spec-validator, PyJWT), and the MCP client agents use
# (Tests/MCPClients: the `mcp` SDK). Installed when missing; the clients at their latest versions,
# as apps and agents get them.
[ -x .venv/bin/python ] || python3 -m venv .venv
python_packages=()
[ -x .venv/bin/moto_server ] || python_packages+=('moto[server]')
.venv/bin/python -c 'import supabase, schemathesis, openapi_spec_validator, jwt' 2>/dev/null \
  || python_packages+=(supabase schemathesis openapi-spec-validator PyJWT)
.venv/bin/python -c 'import mcp' 2>/dev/null || python_packages+=(mcp)
# A local SMTP server with STARTTLS and AUTH for the alert tests (Tests/AlertReceivers).
.venv/bin/python -c 'import aiosmtpd' 2>/dev/null || python_packages+=(aiosmtpd)
# The console in a real browser (Tests/ConsoleClients): Selenium drives Debian's Chromium, axe-core
# checks accessibility.
.venv/bin/python -c 'import selenium, axe_selenium_python' 2>/dev/null || python_packages+=(selenium axe-selenium-python)
browser_packages=()
for package in chromium chromium-driver fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || browser_packages+=("$package")
done
if [ ${#browser_packages[@]} -gt 0 ]; then
  echo "Installing for the console's browser tests: ${browser_packages[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${browser_packages[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${browser_packages[@]}" >/dev/null; }
fi
# --no-compile: Python compiles (and caches) only the modules the tests import, not all of
# botocore, moto and hypothesis up front, which was most of the install's CPU time.
if [ ${#python_packages[@]} -gt 0 ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --no-compile "${python_packages[@]}"
fi
# axe-selenium-python bundles axe-core 3.1 (2018), which cannot read CSS colour functions such as
# color-mix(); this package ships a current axe-core (4.12), used alone (not its Playwright half).
.venv/bin/python -c 'import axe_playwright_python' 2>/dev/null \
  || .venv/bin/pip install --quiet --disable-pip-version-check --no-compile --no-deps axe-playwright-python

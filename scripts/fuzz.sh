#!/usr/bin/env bash
# Fuzzes the parsers an attacker reaches first with libFuzzer (`swiftc -sanitize=fuzzer,address`):
# a request's query string, `select=`, the Accept/Prefer/Range headers, and JWT verification.
# Each target runs FUZZ_SECONDS (default 60) from its seed corpus in Tests/Fuzz/Corpus/<Target>,
# with the words of its input language in Tests/Fuzz/<Target>/dictionary;
# any crash, trap, leak or timeout fails the run and leaves the input in .build-fuzz/artifacts.
#
#   FUZZ_SECONDS=120 scripts/fuzz.sh             # every target
#   FUZZ_TARGETS="Select JWT" scripts/fuzz.sh    # some of them
#   FUZZ_MAX_LEN=65536 scripts/fuzz.sh           # longer inputs than the default 4096 bytes
#   FUZZ_MERGE=1 scripts/fuzz.sh                 # also add the new inputs that widen coverage,
#                                                # minimized, to the corpus in the repository
#   .build-fuzz/fuzz-Select crash-…              # replay one input
#
# The targets compile the real sources (not copies) with the fuzz entries in Tests/Fuzz/<Target>,
# with swiftc directly into .build-fuzz: the parsers need nothing but the standard library, and JWT
# needs JSONValue (BranchCore) and swift-crypto, which SwiftPM builds there from the version
# Package.resolved pins. New inputs go to a temporary directory, so the repository's corpus only
# changes with FUZZ_MERGE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-Query Select Headers JWT}
max_len=${FUZZ_MAX_LEN:-4096}
build=.build-fuzz
swiftc=$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)
swift=$(command -v swift || echo /opt/swift/usr/bin/swift)
mkdir -p "$build/modules" "$build/logs" "$build/artifacts"
# A trap goes straight to libFuzzer's handler (the Swift backtracer would symbolicate for minutes).
export SWIFT_BACKTRACE=enable=no

# The package's swiftSettings (Package.swift), optimized as `make bench` builds (traps on overflow
# and out-of-range indices stay), with libFuzzer's coverage and AddressSanitizer.
flags=(
  -swift-version 6 -package-name branch -parse-as-library -O -g
  -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility
  -enable-upcoming-feature InternalImportsByDefault
  -sanitize=fuzzer,address -use-ld=lld
)
rest_sources=(Sources/BranchREST/Parsing/*.swift Sources/BranchREST/Model/Query.swift Sources/BranchREST/Model/RESTError.swift
  Sources/BranchREST/Planning/ResultSQL.swift)

# Whether $1 is missing or older than any of the other files.
stale() {
  local output=$1
  shift
  [ -e "$output" ] || return 0
  [ -n "$(find "$@" -newer "$output" 2>/dev/null | head -1)" ]
}

# swift-crypto, uninstrumented, as a static library: a one-target package in .build-fuzz/crypto.
crypto=$build/crypto
build_crypto() {
  local version
  version=$(python3 -c 'import json,sys; print(next(p["state"]["version"] for p in json.load(open("Package.resolved"))["pins"] if p["identity"] == "swift-crypto"))' 2>/dev/null ||
    sed -n 's|.*swift-crypto.git", from: "\([0-9.]*\)".*|\1|p' Package.swift)
  mkdir -p "$crypto/Sources/FuzzCrypto"
  cat >"$crypto/Package.swift.new" <<EOF
// swift-tools-version: 6.2
// Written by scripts/fuzz.sh: swift-crypto $version for the JWT fuzz target.
import PackageDescription
let package = Package(
    name: "FuzzCrypto",
    products: [.library(name: "FuzzCrypto", type: .static, targets: ["FuzzCrypto"])],
    dependencies: [.package(url: "https://github.com/apple/swift-crypto.git", exact: "$version")],
    targets: [.target(name: "FuzzCrypto", dependencies: [.product(name: "Crypto", package: "swift-crypto")])]
)
EOF
  cmp -s "$crypto/Package.swift.new" "$crypto/Package.swift" || mv "$crypto/Package.swift.new" "$crypto/Package.swift"
  rm -f "$crypto/Package.swift.new"
  echo "public import Crypto" >"$crypto/Sources/FuzzCrypto/FuzzCrypto.swift"
  "$swift" build --package-path "$crypto" --product FuzzCrypto -c release >"$build/logs/crypto-build.log" 2>&1 || {
    tail -30 "$build/logs/crypto-build.log"
    echo "error: building swift-crypto for the JWT target failed (log: $build/logs/crypto-build.log)" >&2
    return 1
  }
}

build_target() {
  local target=$1 binary=$build/fuzz-$1
  local entry=Tests/Fuzz/$target/main.swift
  case $target in
    Query | Select | Headers)
      stale "$binary" "${rest_sources[@]}" "$entry" "$0" || return 0
      echo "Building $binary"
      "$swiftc" "${flags[@]}" -module-name BranchREST "${rest_sources[@]}" "$entry" -o "$binary"
      ;;
    JWT)
      build_crypto
      local release=$crypto/.build/release
      if stale "$build/modules/BranchCore.o" Sources/BranchCore/JSONValue.swift "$0"; then
        # JWT.swift needs only JSONValue of BranchCore.
        "$swiftc" "${flags[@]}" -module-name BranchCore -wmo -c Sources/BranchCore/JSONValue.swift \
          -emit-module -emit-module-path "$build/modules/BranchCore.swiftmodule" -o "$build/modules/BranchCore.o"
      fi
      stale "$binary" Sources/BranchAuth/JWT.swift Sources/BranchAuth/Base64URL.swift "$entry" "$build/modules/BranchCore.o" "$release/libFuzzCrypto.a" "$0" || return 0
      echo "Building $binary"
      local modulemaps=()
      while IFS= read -r map; do modulemaps+=(-Xcc "-fmodule-map-file=$map"); done < <(find "$release" -maxdepth 2 -name module.modulemap)
      while IFS= read -r include; do modulemaps+=(-Xcc -I -Xcc "$include"); done < <(find "$crypto/.build/checkouts/swift-crypto/Sources" -maxdepth 2 -type d -name include)
      "$swiftc" "${flags[@]}" -module-name BranchAuth -I "$build/modules" -I "$release/Modules" "${modulemaps[@]}" \
        Sources/BranchAuth/JWT.swift Sources/BranchAuth/Base64URL.swift "$entry" \
        "$build/modules/BranchCore.o" "$release/libFuzzCrypto.a" -o "$binary"
      ;;
    *)
      echo "error: unknown fuzz target $target (Query, Select, Headers, JWT)" >&2
      return 1
      ;;
  esac
}

scratch=
trap '[ -z "$scratch" ] || rm -rf "$scratch"' EXIT
failed=()
summary=()
for target in $targets; do
  build_target "$target"
  binary=$build/fuzz-$target
  corpus=Tests/Fuzz/Corpus/$target
  scratch=$(mktemp -d)
  log=$build/logs/$target.log
  mkdir -p "$build/artifacts/$target"
  echo "Fuzzing $target for ${seconds}s (log: $log)"
  options=()
  [ -f "Tests/Fuzz/$target/dictionary" ] && options+=(-dict="Tests/Fuzz/$target/dictionary")
  status=0
  # New inputs go to $scratch (the first directory); the repository's corpus is only read.
  "$binary" "$scratch" "$corpus" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target/" "${options[@]}" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  corpus_size=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 || true)
  summary+=("$(printf '%-8s runs %-10s exec/s %-7s %-22s %s' "$target" "${runs:-?}" "${speed:-?}" "${coverage:-cov: ?}" "$corpus_size")")
  if [ "$status" != 0 ]; then
    failed+=("$target")
    grep -E -A25 'ERROR: |Fatal error|Crash|==[0-9]+==' "$log" | head -60 >&2 || tail -40 "$log" >&2
    echo "FAILED: $target (exit $status); the input is in $build/artifacts/$target/" >&2
  elif [ "${FUZZ_MERGE:-0}" = 1 ]; then
    before=$(ls "$corpus" | wc -l)
    "$binary" -merge=1 "$corpus" "$scratch" >>"$log" 2>&1
    echo "$target: corpus $before -> $(ls "$corpus" | wc -l) inputs"
  fi
  rm -rf "$scratch"
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crash in ${seconds}s per target"

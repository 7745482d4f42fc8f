#!/usr/bin/env bash
# `make demo`: start the offline demo server on a free loopback port, run tinkex against it
# (a sample, plain then --json; then model list and checkpoint list from the demo catalog,
# a checkpoint delete --dry-run, a billing usage table and a checkpoint download into a
# temporary directory),
# print what it prints, and stop the server. Needs no API key.
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${CARGO_TARGET_DIR:-target}/${PROFILE:-debug}"
server_bin="$target/examples/demo_server"
# TINKEX_BIN: another tinkex binary to demo (make dist-check runs the packaged one).
tinkex_bin="${TINKEX_BIN:-$target/tinkex}"
for bin in "$server_bin" "$tinkex_bin"; do
  [ -x "$bin" ] || { echo "demo: $bin is missing; run 'make demo' (it builds first)" >&2; exit 1; }
done

port_file="$(mktemp)"
download_dir="$(mktemp -d)"
"$server_bin" --port 0 -q >"$port_file" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -f "$port_file"; rm -rf "$download_dir"' EXIT

# The server prints "listening on URL" as its first line once it accepts connections.
url=""
for _ in $(seq 100); do
  line="$(head -n 1 "$port_file")"
  if [ -n "$line" ]; then url="${line#listening on }"; break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "demo: the demo server did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "demo: the demo server did not report its address" >&2; exit 1; }

# Pretty JSON puts each token id on its own line (~100 lines for one sample): join every array
# that holds only numbers onto the line that opens it, and leave everything else as it is.
join_number_arrays() {
  awk '
    function flush() { if (open != "") { print open; for (i = 1; i <= n; i++) print held[i] }; open = ""; n = 0 }
    open != "" && /^ *-?[0-9][0-9.eE+-]*,?$/ { n++; held[n] = $0; next }
    open != "" && /^ *\],?$/ {
      line = open; for (i = 1; i <= n; i++) { v = held[i]; sub(/^ +/, "", v); line = line (i > 1 ? " " : "") v }
      t = $0; sub(/^ +/, "", t); print line t; open = ""; n = 0; next
    }
    { flush() }
    /\[$/ { open = $0; next }
    { print }
    END { flush() }
  '
}

# A real key, base URL or proxy in the caller's environment must not leak into the demo.
demo_env=(env -u TINKER_API_KEY -u TINKER_BASE_URL -u TINKER_CREDENTIAL_CMD
  NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost")
args=(run --base-url "$url" --api-key tml-demo --base-model Qwen/Qwen3-8B
  --tokenizer fixtures/qwen3/tokenizer.json --prompt "Hello")

echo "\$ tinkex run --base-model Qwen/Qwen3-8B --tokenizer fixtures/qwen3/tokenizer.json --prompt \"Hello\"   # against $url"
"${demo_env[@]}" "$tinkex_bin" "${args[@]}"
echo
echo "\$ tinkex run ... --prompt \"Hello\" --json   # number arrays joined onto one line here"
"${demo_env[@]}" "$tinkex_bin" "${args[@]}" --json | join_number_arrays
echo
read_args=(--base-url "$url" --api-key tml-demo)
echo "\$ tinkex model list"
"${demo_env[@]}" "$tinkex_bin" model list "${read_args[@]}"
echo
echo "\$ tinkex checkpoint list --limit 5"
"${demo_env[@]}" "$tinkex_bin" checkpoint list --limit 5 "${read_args[@]}"
echo
echo "\$ tinkex checkpoint delete --run-id demo-run-1 --type sampler_weights --keep-last 57 --dry-run"
"${demo_env[@]}" "$tinkex_bin" checkpoint delete --run-id demo-run-1 --type sampler_weights \
  --keep-last 57 --dry-run "${read_args[@]}"
echo
echo "\$ tinkex billing usage --last 24h"
"${demo_env[@]}" "$tinkex_bin" billing usage --last 24h "${read_args[@]}"
echo
score_args=(score --base-url "$url" --api-key tml-demo --base-model Qwen/Qwen3-8B
  --tokenizer fixtures/qwen3/tokenizer.json --context "The capital of France is")
echo "\$ tinkex score ... --context \"The capital of France is\" --choice \" Paris\" --choice \" London\"   # made-up logprobs"
"${demo_env[@]}" "$tinkex_bin" "${score_args[@]}" --choice " Paris" --choice " London"
echo
echo "\$ tinkex checkpoint download tinker://demo-run-1/weights/000600 -o DIR   # DIR: a temporary directory"
"${demo_env[@]}" "$tinkex_bin" checkpoint download tinker://demo-run-1/weights/000600 \
  -o "$download_dir" "${read_args[@]}"
ls -l "$download_dir"/demo-run-1_weights_000600 | tail -n +2

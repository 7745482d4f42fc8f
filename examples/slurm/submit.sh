#!/usr/bin/env bash
# Submits sample-array.sbatch as an array of SHARDS tasks, then `tinkex merge` as a job that
# starts only when every task succeeded (afterok). Run it from the directory holding the input.
#   SHARDS=8 INPUT=prompts.jsonl OUTPUT=results.jsonl examples/slurm/submit.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SHARDS="${SHARDS:-8}"
OUTPUT="${OUTPUT:-results.jsonl}"
export TINKEX="${TINKEX:-tinkex}" INPUT="${INPUT:-prompts.jsonl}"

jobid="$(sbatch --parsable --array="1-$SHARDS" "$here/sample-array.sbatch")"
jobid="${jobid%%;*}" # --parsable prints "id" or "id;cluster"
journals=()
for ((k = 1; k <= SHARDS; k++)); do journals+=("out-$k.jsonl"); done
merge="$(printf '%q ' "$TINKEX" merge --input "$INPUT" --output "$OUTPUT" "${journals[@]}")"
mergeid="$(sbatch --parsable --dependency="afterok:$jobid" --job-name=tinkex-merge --wrap="$merge")"
echo "submitted: sampling array $jobid ($SHARDS tasks), merge ${mergeid%%;*} into $OUTPUT"

#!/usr/bin/env bash
# The whole fine-tuning path with nothing but `bailian-tui … --json` and jq (docs/cli.md).
#   usage: examples/whole_path.sh MEDQA_TRAIN.jsonl MEDQA_TEST.jsonl [WORKDIR]
#   e.g.   examples/whole_path.sh datasets/MedQA/questions/Mainland/4_options/{train,test}.jsonl
# TEMPLATE=english for the US split (the prompt of the converted records), MODEL= the base model.
# Try it on the built-in simulator: BT="bailian-tui --demo" does not keep state between commands, so run
# `bailian-tui sim --port 8765 &` and export the three variables it prints instead.
set -euo pipefail
TRAIN=${1:?usage: whole_path.sh MEDQA_TRAIN.jsonl MEDQA_TEST.jsonl [WORKDIR]}
TEST=${2:?usage: whole_path.sh MEDQA_TRAIN.jsonl MEDQA_TEST.jsonl [WORKDIR]}
WORK=${3:-$(mktemp -d)}
TEMPLATE=${TEMPLATE:-chinese}
BT=${BT:-bailian-tui}
MODEL=${MODEL:-qwen3-8b}
say() { echo "== $*" >&2; }

say "convert ($TEMPLATE prompt) and validate"
$BT convert "$TRAIN" "$WORK/train.jsonl" --template "$TEMPLATE" --json | jq -e '.written > 0' >/dev/null
$BT convert "$TEST" "$WORK/test.jsonl" --template "$TEMPLATE" --json | jq -e '.written > 0' >/dev/null
$BT validate "$WORK/train.jsonl" --json | jq -e '.errors == 0' >/dev/null

say "upload"
FILE_ID=$($BT files upload "$WORK/train.jsonl" --json | jq -r '.[0].file_id')
echo "file: $FILE_ID" >&2

say "create: dry run, then for real"
$BT jobs create --model "$MODEL" --train "$FILE_ID" --set n_epochs=2 --set batch_size=8 \
    --set learning_rate=1.6e-5 --dry-run --json | jq -e '.request.body.hyper_parameters.learning_rate' >/dev/null
JOB=$($BT jobs create --model "$MODEL" --train "$FILE_ID" --set n_epochs=2 --set batch_size=8 \
    --set learning_rate=1.6e-5 --yes --json | jq -r '.job_id')
echo "job: $JOB" >&2

say "follow to SUCCEEDED"
$BT jobs watch "$JOB" --json --every 5 | jq -c 'select(.event=="status" or .event=="finished")' >&2
STATUS=$($BT jobs get "$JOB" --json | jq -r '.status')
[ "$STATUS" = SUCCEEDED ] || { echo "job ended $STATUS" >&2; exit 1; }

say "read the loss"
LOSS=$($BT jobs get "$JOB" --metrics --json | jq -r '.metrics.loss')
echo "loss: $LOSS" >&2

say "export the last checkpoint"
CKPT=$($BT jobs checkpoints "$JOB" --json | jq -r 'last | .checkpoint')
EXPORTED="${MODEL}-exp-$$"
$BT jobs export "$JOB" "$CKPT" --model-name "$EXPORTED" --yes --json | jq -e '.accepted' >/dev/null

say "deploy the fine-tuned model"
TUNED=$($BT jobs get "$JOB" --json | jq -r '.finetuned_output')
DEPLOYED=$($BT deployments create "$TUNED" --plan lora --wait --yes --json | jq -r '.deployed_model')
echo "deployed: $DEPLOYED" >&2

say "chat"
$BT chat --model "$DEPLOYED" "Which drug is first-line for stable angina?" --json | jq -e '.content | length > 0' >/dev/null

say "evaluate against the base model"
$BT eval "$WORK/test.jsonl" --model "$DEPLOYED" --baseline "$MODEL" --limit 10 --json \
    | jq -r '.models[] | "\(.model) \(.accuracy)"' >&2

say "undeploy"
$BT deployments delete "$DEPLOYED" --yes --json | jq -r '.status' >&2
echo "$JOB $LOSS $DEPLOYED"

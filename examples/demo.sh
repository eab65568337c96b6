#!/usr/bin/env bash
# The modelport demo: one image for the iris model, built once, deployed, swapped to a new model
# version, rolled back, and moved between targets — with predictions checked at every step.
# Run it through `bash scripts/demo.sh`, which starts a private Docker engine first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export MODELPORT_STATE="${MODELPORT_STATE:-$(mktemp -d)/state.db}"
MP="${MODELPORT:-modelport}"
work=$(mktemp -d)
cp -r examples/iris "$work/v1"
cp -r examples/iris-v2 "$work/v2"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
predict() {  # predict TARGET: print the model version, labels and one probability
  "$MP" predict iris --to "$1" --input examples/iris/sample.json --output json | python3 -c '
import json, sys
r = json.load(sys.stdin)
o = {x["name"]: x["data"] for x in r["outputs"]}
print("  model", r.get("model_version"), "labels", o["predict"], "P(class 0 | row 1) = %.6f" % o["predict_proba"][0])'
}
cleanup() { "$MP" destroy iris --to dev >/dev/null 2>&1 || true; "$MP" destroy iris --to staging >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

say "1. validate the spec (no cloud is touched)"
"$MP" validate "$work/v1"

say "2. build one image: base -> dependencies -> serving runtime -> model"
"$MP" build "$work/v1"

say "3. plan, then deploy to the local Docker engine (target 'dev')"
"$MP" plan "$work/v1" --to dev
"$MP" deploy "$work/v1" --to dev
predict dev

say "4. deploying the same spec again plans nothing"
"$MP" plan "$work/v1" --to dev

say "5. swap to model version 2 (blue-green: new revision gated, then switched)"
"$MP" swap "$work/v2" --to dev --strategy blue-green
predict dev

say "6. roll back to version 1"
"$MP" rollback iris --to dev
predict dev

say "7. migrate to a second target ('staging'): same image digest, outputs compared, source retired"
"$MP" migrate iris --from dev --to staging --retire-source
predict staging

say "8. status and history"
"$MP" status
"$MP" history iris

say "9. destroy"
"$MP" destroy iris --to staging
echo
echo "demo finished: one image, deployed, swapped, rolled back and migrated with identical predictions"

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
clouds_pid=""
cleanup() {
  for t in dev staging aws gcp azure aca; do "$MP" destroy iris --to "$t" >/dev/null 2>&1 || true; done
  if [ -n "$clouds_pid" ]; then kill "$clouds_pid" 2>/dev/null || true; wait "$clouds_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
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

[ "${DEMO_CLOUDS:-1}" = "1" ] || exit 0

say "10. the emulated clouds: AWS (moto + ECS/ALB data plane), GCP (Cloud Run v2), Azure (ARM over HTTPS)"
python3 -m moto_fixtures.demo_clouds "$work/clouds.env" &
clouds_pid=$!
for _ in $(seq 1 240); do [ -f "$work/clouds.env" ] && break; sleep 1; done
[ -f "$work/clouds.env" ] || { echo "the emulated clouds did not start" >&2; exit 1; }
set -a; . "$work/clouds.env"; set +a
# the settings a real user writes for real clouds, here pointed at the emulators
# (each cloud's registry is replaced by a local registry through the registry override)
for v in v1 v2; do
# Container Instances runs one instance per revision (no autoscaling), so a spec with an azure
# target asks for one (validate refuses max_instances > 1 there)
sed -i 's/^max_instances = .*/max_instances = 1/' "$work/$v/modelport.toml"
# Cloud Run runs less than 1 vCPU only with concurrency 1 and at most 512 MiB (validate refuses
# the example's 0.5 vCPU / 1 GiB / concurrency 80 with a gcp target) and Fargate runs 1 vCPU with
# 2-8 GiB: the cloud specs ask for 1 vCPU and 2 GiB, a size all three clouds run
sed -i 's/^cpu = .*/cpu = 1/; s/^memory = .*/memory = "2Gi"/' "$work/$v/modelport.toml"
cat >> "$work/$v/modelport.toml" <<TOML

[targets.aws]
provider = "aws"
region = "$AWS_REGION"
endpoint_url = "$AWS_ENDPOINT_URL"
registry = "$AWS_ECR_REGISTRY/modelport"

[targets.gcp]
provider = "gcp"
project = "modelport-demo"
region = "us-central1"
api_endpoint = "$GCP_ENDPOINT"
registry = "$GCP_REGISTRY/modelport"
# private (the default): modelport's gates and predict send an ID token from google-auth's default
# chain (GOOGLE_APPLICATION_CREDENTIALS, a key file the emulated Google identity handed out)

[targets.azure]
provider = "azure"
subscription_id = "$AZURE_SUBSCRIPTION"
resource_group = "modelport-demo"
location = "eastus"
base_url = "$AZURE_BASE_URL"
ca_bundle = "$AZURE_CA_BUNDLE"
token_env = "DEMO_AZURE_TOKEN"
registry = "$AZURE_REGISTRY/modelport"
endpoint_host = "ip"              # the emulator has no DNS for *.azurecontainer.io

[targets.aca]
provider = "azure-apps"
subscription_id = "$AZURE_SUBSCRIPTION"
resource_group = "modelport-demo"
location = "eastus"
environment = "modelport-demo-env"  # a managed environment, created on first deploy
base_url = "$AZURE_BASE_URL"
ca_bundle = "$AZURE_CA_BUNDLE"
token_env = "DEMO_AZURE_TOKEN"
registry = "$AZURE_REGISTRY/modelport"
via_static_ip = true              # the emulator has no DNS for *.azurecontainerapps.io: its static IP + Host
allow_insecure = true             # plain HTTP too (the emulator's CA is not in the system's trust store)
TOML
done
export DEMO_AZURE_TOKEN=demo-token  # the emulator accepts any bearer token

say "11. deploy version 1 to AWS: ECR, ECS on Fargate, an application load balancer"
"$MP" plan "$work/v1" --to aws
"$MP" deploy "$work/v1" --to aws
predict aws

say "12. canary swap to version 2 on AWS: 10% -> 50% -> 100%, each step gated"
"$MP" swap "$work/v2" --to aws --strategy canary --steps 10,50,100
predict aws

say "13. migrate to GCP (Cloud Run): same digest, size fitted to Cloud Run, outputs compared"
"$MP" migrate iris --from aws --to gcp
predict gcp

say "14. migrate from GCP to Azure (Container Instances: no traffic split, so blue-green)"
"$MP" migrate iris --from gcp --to azure
predict azure

say "15. the same image everywhere"
"$MP" status --output json | python3 -c '
import json, sys
for d in json.load(sys.stdin)["deployments"]:
    active = max(d["traffic"], key=d["traffic"].get)
    digest = next(r["digest"] for r in d["revisions"] if r["name"] == active)
    print("  %-6s %-6s %s  %s" % (d["target"], d["provider"], digest, d["endpoint"]))'
for t in aws gcp azure; do predict "$t"; done

say "16. migrate to Azure Container Apps, then canary back to version 1 there: 10% -> 50% -> 100%, each step gated"
"$MP" migrate iris --from azure --to aca
predict aca
"$MP" swap "$work/v1" --to aca --strategy canary --steps 10,50,100
predict aca

echo
echo "demo finished: one image, deployed to AWS, canary-swapped, migrated to GCP and Azure, canary-swapped on Azure Container Apps, identical predictions"

"""``python -m moto_fixtures.demo_clouds ENV_FILE``: the three emulated clouds for the demo.

Starts the AWS emulation (moto + ECR stand-in + ECS/ALB data plane), the Cloud Run emulator and
the ARM emulator for Container Instances and Container Apps, plus one local registry standing in for Artifact
Registry and one for ACR; writes what a user would configure (endpoints, registries, CA bundle,
credentials, among them GOOGLE_APPLICATION_CREDENTIALS: a service-account key file whose
token_uri is the Cloud Run emulator's) to ENV_FILE as KEY=VALUE lines, then serves until SIGTERM/SIGINT and stops
everything it started.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


def main(argv: list[str]) -> int:
    from moto_fixtures.aws import AwsEmulation
    from moto_fixtures.azure import ArmEmulator
    from moto_fixtures.gcp import CloudRunEmulator
    from moto_fixtures.services import Registry

    env_file = Path(argv[0])
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with ExitStack() as stack:
        aws = stack.enter_context(AwsEmulation(set_env=False))
        gcp = CloudRunEmulator()
        gcp_endpoint = gcp.start()
        stack.callback(gcp.stop)
        # a deployer service account's key file, as `gcloud iam service-accounts keys create` gives
        # one: google-auth's default chain finds it and mints ID tokens for the private services
        gcp_key = gcp.write_credentials(env_file.parent, project="modelport-demo")
        azure = ArmEmulator()
        azure_url = azure.start()
        stack.callback(azure.stop)
        azure.add_resource_group(AZURE_SUBSCRIPTION, "modelport-demo", "eastus")
        gar = Registry().start()
        stack.callback(gar.stop)
        acr = Registry().start()
        stack.callback(acr.stop)
        lines = {
            "AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_REGION": aws.region, "AWS_ECR_REGISTRY": aws.registry,
            "AWS_ACCESS_KEY_ID": aws.admin.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": aws.admin.aws_secret_access_key,
            "GCP_ENDPOINT": gcp_endpoint, "GCP_REGISTRY": gar.host, "GOOGLE_APPLICATION_CREDENTIALS": str(gcp_key),
            "AZURE_SUBSCRIPTION": AZURE_SUBSCRIPTION, "AZURE_BASE_URL": azure_url, "AZURE_CA_BUNDLE": str(azure.ca_pem), "AZURE_REGISTRY": acr.host,
        }
        tmp = env_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        os.replace(tmp, env_file)
        print(f"clouds ready; settings in {env_file}", file=sys.stderr, flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The gcp provider loads the Cloud Run SDK for its synchronous REST transport only: building its
client does not import aiohttp (google-api-core's asyncio REST transport pulls it in wherever
it is installed, a tenth of a second of a no-op plan), and leaves google-auth's aiohttp sessions
importable for anyone else in the process."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from modelport_providers.gcp.client import CloudRun
from modelport_providers.gcp.settings import GcpSettings

run = CloudRun(GcpSettings(project="modelport-probe", region="us-central1", api_endpoint="http://localhost:9",
                           credentials="anonymous"))
loaded = {"aiohttp": "aiohttp" in sys.modules, "run_v2": "google.cloud.run_v2" in sys.modules,
          "clients": [type(run.services).__name__, type(run.revisions).__name__]}
import google.auth.aio.transport.sessions as sessions  # still importable afterwards
loaded["sessions"] = sessions.__name__
print(json.dumps(loaded))
"""


def test_cloud_run_client_does_not_import_aiohttp():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == {"aiohttp": False, "run_v2": True, "clients": ["ServicesClient", "RevisionsClient"],
                      "sessions": "google.auth.aio.transport.sessions"}, loaded

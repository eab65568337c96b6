"""The Dockerfile of a model image. Pure: spec values in, text out.

Layers, in this order, so a model-only change rebuilds (and pushes) only the last one:
base image -> dependencies (installed in a throw-away stage, copied as one layer) -> serving
runtime -> model artifact. Everything that varies with the model (its version, labels, env) comes
after the model layer as metadata, which creates no layer.
"""

from __future__ import annotations

import json

RUNTIME_MODULE = "modelport_runtime"
APP = "/opt/modelport"


def render(base_image: str, labels: dict[str, str], env: dict[str, str], port: int) -> str:
    """Dockerfile text. The context holds ``deps/`` (requirements.txt, wheels/, pip.whl),
    ``runtime/`` (the serving runtime package) and ``model/``."""
    label_line = "LABEL " + " \\\n      ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in sorted(labels.items()))
    env_line = "ENV " + " \\\n    ".join(f"{k}={json.dumps(v)}" for k, v in sorted(env.items()))
    return f"""\
# syntax: classic builder (Docker 20.10 API through the Docker SDK)
FROM {base_image} AS deps
COPY deps/ /tmp/modelport-deps/
RUN python3 /tmp/modelport-deps/pip.whl/pip install --no-index --no-cache-dir --disable-pip-version-check \\
      --no-compile --find-links /tmp/modelport-deps/wheels --target {APP}/site \\
      -r /tmp/modelport-deps/requirements.txt

FROM {base_image}
COPY --from=deps {APP}/site {APP}/site
COPY runtime/ {APP}/{RUNTIME_MODULE}/
ENV PYTHONPATH={APP}/site:{APP} PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT={port}
EXPOSE {port}
ENTRYPOINT ["python3", "-m", "{RUNTIME_MODULE}"]
CMD ["serve"]
COPY model/ {APP}/model/
{env_line}
{label_line}
"""

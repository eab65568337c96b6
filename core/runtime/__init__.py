"""The serving runtime that runs inside every modelport image.

One process answers three protocols on one port, so the same image satisfies every cloud:

* Open Inference Protocol v2 REST (``/v2/...``), JSON and the Binary Tensor Data extension
  (:mod:`.binary`), KServe v1 (``/v1/models/{m}:predict``)
* the SageMaker contract (``GET /ping``, ``POST /invocations``, started with the argument ``serve``)

and on the same port ``GET /metrics`` (Prometheus, :mod:`.metrics`), one JSON access-log line
per request on standard output (:mod:`.accesslog`), and optional adaptive batching of
concurrent predictions (:mod:`.batching`). A prediction route prepares a :class:`.Prediction`
(decoded inputs), the host calls the model, the prediction builds its own reply.

Inside an image these files are the package ``modelport_runtime`` (started as
``python3 -m modelport_runtime serve``); on the host they are ``modelport.runtime``. So every
import in this package is relative, and this file imports nothing heavy: the build reads
``modelport.runtime.requirements`` on the host without scikit-learn or onnxruntime.

Configuration comes from environment variables (see :mod:`.config`). Hostile requests are
refused before they cost anything: bodies over ``MODELPORT_MAX_BODY_BYTES`` (default 16 MiB,
also when Content-Length lies or is absent) get 413, a request target over 16 KiB 414, header
fields over 64 KiB 431, JSON nested deeper than 1024 levels 400.
"""

__version__ = "0.1.0"

"""What the image must install for the runtime: pinned requirement strings per framework.

Read on the host by the image build (``modelport.runtime.requirements``); it imports nothing but
the standard library. The pins are the versions the runtime is tested with, and the example
models are pickled with exactly this scikit-learn. Every pin is the full closure (transitive
dependencies included), so ``pip download`` gives the same set with or without ``--no-deps``.

Download the wheels for the image's Python like this (numpy, scipy, scikit-learn and onnxruntime
ship only ``manylinux_2_27/2_28`` wheels, and pip 23 does not widen a ``--platform`` to older
manylinux tags, so every tag in :data:`PIP_PLATFORMS` is passed)::

    pip download --only-binary=:all: --python-version 3.11 --implementation cp \\
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 ... -d WHEELS REQS...
"""

from __future__ import annotations

RUNTIME_MODULE = "modelport_runtime"
PYTHON_VERSION = "3.11"

# Every platform tag the image (Debian bookworm, glibc 2.36, x86_64) accepts that our wheels use.
PIP_PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)

# The server: uvicorn with its C speedups, orjson, numpy for tensors, prometheus-client for /metrics.
_SERVER = (
    "uvicorn==0.54.0",
    "click==8.5.1",
    "h11==0.16.0",
    "httptools==0.9.0",
    "uvloop==0.23.0",
    "orjson==3.13.0",
    "numpy==2.4.6",
    "prometheus-client==0.26.0",
)

_FRAMEWORKS = {
    "sklearn": (
        "scikit-learn==1.9.1",
        "scipy==1.17.1",
        "joblib==1.6.0",
        "threadpoolctl==3.8.0",
        "narwhals==2.29.0",
        "cloudpickle==3.1.3",
    ),
    "onnx": (
        "onnxruntime==1.32.0",
        "flatbuffers==25.12.19",
        "packaging==26.4",
        "protobuf==7.36.2",
    ),
    # predict.py brings its own needs (the spec's extra requirements); the runtime adds none.
    "custom": (),
}

FRAMEWORKS = tuple(_FRAMEWORKS)


def runtime_requirements(framework: str) -> list[str]:
    """Pinned requirements (``name==version``) the image needs to serve a ``framework`` model.

    :param framework: ``sklearn``, ``onnx`` or ``custom``.
    :raises ValueError: for any other framework.
    """
    try:
        extra = _FRAMEWORKS[framework]
    except KeyError:
        raise ValueError(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}") from None
    return [*_SERVER, *extra]


def pip_download_args(framework: str, dest: str) -> list[str]:
    """Arguments after ``pip`` that download the wheels for ``framework`` into ``dest``."""
    platforms = [arg for tag in PIP_PLATFORMS for arg in ("--platform", tag)]
    return [
        "download", "--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp",
        *platforms, "--dest", dest, *runtime_requirements(framework),
    ]

"""modelport: one container image for a model, deployed to any cloud and moved between them.

The functions of :mod:`modelport.api` are available here too (``modelport.deploy(...)``,
``modelport.swap(...)``, ...); they are loaded on first use so ``import modelport`` stays cheap.
"""

__version__ = "0.1.0"

_API = ("validate", "build", "plan", "deploy", "deploy_image", "swap", "rollback", "migrate", "status",
        "predict", "history", "logs", "destroy", "resume", "abort", "push", "copy", "providers", "schema",
        "Session", "promote", "image_ref", "plan_swap", "plan_rollback", "plan_migrate", "plan_promote",
        "plan_destroy", "plan_resume", "plan_abort")


def __getattr__(name: str):
    if name in _API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'modelport' has no attribute {name!r}")


__all__ = ["__version__", *_API]

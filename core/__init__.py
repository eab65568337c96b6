"""modelport: one container image for a model, deployed to any cloud and moved between them."""

__version__ = "0.1.0"

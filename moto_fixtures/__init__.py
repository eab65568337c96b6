"""Emulators and pytest fixtures for modelport's tests.

* :mod:`moto_fixtures.services` -- live helper services (private Docker engine, registries,
  the offline base image) and the ``up``/``down`` CLI the scripts use.
* :mod:`moto_fixtures.pytest_plugin` -- the generic session fixtures (``docker_client``,
  ``base_image``, ``registry``, ``registry_b``, ``auth_registry``, ``state_path``); loaded by
  ``tests/conftest.py`` through ``pytest_plugins``.
* One subpackage per cloud emulator (aws, gcp, azure), each with its own fixtures module.
"""

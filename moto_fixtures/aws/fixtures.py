"""Pytest fixtures for the AWS emulation: ``pytest_plugins = ["moto_fixtures.aws.fixtures"]``."""

from __future__ import annotations

import os

import pytest

from .emulation import AwsEmulation


@pytest.fixture(scope="session")
def aws_emulation():
    """One emulated AWS account for the session (moto + ECR stand-in + ECS/ALB data planes).

    Uses ``$DOCKER_HOST`` for the task containers; the admin credentials and region are exported
    to the environment for the session and restored afterwards.
    """
    with AwsEmulation(docker_host=os.environ.get("DOCKER_HOST")) as aws:
        yield aws

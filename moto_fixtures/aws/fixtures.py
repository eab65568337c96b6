"""Pytest fixtures for the AWS emulation.

Add ``"moto_fixtures.aws.fixtures"`` to ``pytest_plugins`` next to ``moto_fixtures.pytest_plugin``
(whose ``docker_host`` fixture picks the Docker engine the task containers run on).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulation import AwsEmulation


@pytest.fixture(scope="session")
def aws_emulation(docker_host: str) -> Iterator[AwsEmulation]:
    """One emulated AWS account for the session (moto + ECR stand-in + ECS/ALB data planes).

    The admin credentials and region are exported to the environment for the session (so boto3's
    default chain finds them) and restored afterwards; everything started is stopped at the end.
    """
    with AwsEmulation(docker_host=docker_host) as aws:
        yield aws

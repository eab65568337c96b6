"""Hook implementations only: registers the aws provider (boto3 is imported on first use) and its
``iam-policy`` command."""

from modelport.hookspecs import hookimpl

from .provider import AwsProvider

#: modelport_register_commands came with hook specs version 2
MODELPORT_HOOKSPEC_VERSION = 2


@hookimpl
def modelport_register_providers(register):
    register(AwsProvider())


@hookimpl
def modelport_register_commands(register):
    from .commands import iam_policy  # the CLI's modules load when plugins load, not on import

    register(iam_policy)

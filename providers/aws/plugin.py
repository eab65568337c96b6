"""Hook implementations only: registers the aws provider (boto3 is imported on first use)."""

from modelport.hookspecs import hookimpl

from .provider import AwsProvider


@hookimpl
def modelport_register_providers(register):
    register(AwsProvider())

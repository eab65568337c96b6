"""A revision's secrets: native ``aws-sm:`` references resolved to full ARNs, values resolved on
this machine stored as Secrets Manager secrets of the revision, and the execution role's grant.

IAM evaluates a secret by its full ARN, random six-character suffix included, so a policy naming
a partial ARN grants nothing (https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen):
every reference is resolved with DescribeSecret and the role is granted exactly those ARNs.

A force-deleted secret is purged asynchronously and its name cannot be used until then
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html): creating
one waits for the purge, polling DescribeSecret as AWS recommends.
"""

from __future__ import annotations

import json
import time
from modelport.errors import ProviderError
from modelport.provider import RevisionSpec

from . import translate as tr
from .client import AwsClient
from .translate import Names

MISSING = ("ResourceNotFoundException",)
PURGE_WAIT = 60.0  # seconds to wait for a force-deleted name to become free
POLL = 1.0


def arn_base(value_from: str) -> str:
    """``arn:aws:secretsmanager:R:A:secret:NAME[-XXXXXX]`` without ``:json-key:stage:version``."""
    return ":".join(value_from.split(":")[:7])


def with_base(value_from: str, full_arn: str) -> str:
    """``value_from`` naming the secret by ``full_arn`` (its json-key/stage/version kept)."""
    rest = value_from.split(":")[7:]
    return ":".join([full_arn, *rest]) if rest else full_arn


class Secrets:
    """Secrets of the revisions of ``names.deployment``."""

    def __init__(self, client: AwsClient, names: Names) -> None:
        self.client, self.names = client, names

    def full_arn(self, arn: str) -> str:
        """The secret's full ARN; ``arn`` itself when there is no such secret (the task then
        fails to start the way ECS reports a missing secret)."""
        found = self.client.call("secretsmanager", "describe_secret", SecretId=arn, missing=MISSING)
        return found["ARN"] if found else arn

    def prepare(self, rev: RevisionSpec) -> dict[str, str]:
        """Env name -> ``valueFrom``: native references by full ARN; values resolved on this machine
        stored as secrets of the revision (never in the task definition)."""
        refs = {key: with_base(ref, self.full_arn(arn_base(ref))) for key, ref in tr.secret_refs(rev).items()}
        for key, value in sorted(rev.secret_values.items()):
            refs[key] = self._store(f"modelport/{rev.deployment}/{rev.revision}/{key}", value, rev)
        return refs

    def _store(self, name: str, value: str, rev: RevisionSpec) -> str:
        deadline = time.monotonic() + PURGE_WAIT
        while True:
            try:
                # botocore fills ClientRequestToken and keeps it across its retries: a create
                # retried after a lost reply answers the secret the first attempt created.
                created = self.client.call("secretsmanager", "create_secret", Name=name, SecretString=value,
                                           Tags=tr.tag_list(tr.rev_tags(rev)), missing=("ResourceExistsException",))
                break
            except ProviderError as exc:
                if "scheduled for deletion" not in exc.message:
                    raise
                if time.monotonic() > deadline:
                    raise _scheduled(name, exc) from None
                self._wait_purged(name, deadline)
        if created is None:  # it exists (an earlier attempt): the value may have changed since
            created = self.client.call("secretsmanager", "put_secret_value", SecretId=name, SecretString=value)
        return created["ARN"]

    def _wait_purged(self, name: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.client.call("secretsmanager", "describe_secret", SecretId=name, missing=MISSING) is None:
                return
            time.sleep(POLL)

    def allow(self, revision: str, value_froms: list[str]) -> None:
        """The execution role modelport created may read exactly this revision's secrets."""
        if not value_froms or self.names.settings.execution_role_arn:
            return
        arns = sorted({arn_base(v) for v in value_froms})
        doc = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arns}]}
        self.client.call("iam", "put_role_policy", RoleName=self.names.role, PolicyName=policy_name(revision),
                         PolicyDocument=json.dumps(doc))

    def delete(self, revision: str) -> None:
        """Force-delete the revision's stored secrets and the role's grant (missing ones are fine;
        a repeated force delete succeeds, as AWS documents)."""
        prefix = f"modelport/{self.names.deployment}/{revision}/"
        for secret in self.client.pages("secretsmanager", "list_secrets", "SecretList",
                                        Filters=[{"Key": "name", "Values": [prefix]}]):
            if secret["Name"].startswith(prefix):
                self.client.call("secretsmanager", "delete_secret", SecretId=secret["ARN"],
                                 ForceDeleteWithoutRecovery=True, missing=MISSING)
        if not self.names.settings.execution_role_arn:
            self.client.call("iam", "delete_role_policy", RoleName=self.names.role,
                             PolicyName=policy_name(revision), missing=("NoSuchEntity",))


def policy_name(revision: str) -> str:
    """The execution role's inline policy granting one revision's secrets."""
    return f"modelport-secrets-{revision}"


def _scheduled(name: str, exc: ProviderError) -> ProviderError:
    return ProviderError("aws", exc.operation, f"secret {name} is still scheduled for deletion after "
                         f"{PURGE_WAIT:.0f} s", retryable=True,
                         hint="if it was deleted with a recovery window, restore it (aws secretsmanager "
                              "restore-secret) or delete it with --force-delete-without-recovery")

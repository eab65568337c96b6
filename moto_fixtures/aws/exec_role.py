"""The task execution role, as ECS uses it before a task starts.

ECS assumes the role to fetch ``secrets`` and, for ECR images and the ``awslogs`` driver, to pull
and to write logs. The role must exist and trust ``ecs-tasks.amazonaws.com``; its policies (AWS
managed, customer managed and inline) must allow each call on its resource, or the task stops
with ``ResourceInitializationError``. Policies are evaluated with moto's own IAM policy engine.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from .taskdef import TaskStartError, essential_container


def _document(doc) -> str:
    # boto3 decodes policy documents to dicts; some moto paths answer URL-encoded strings.
    return json.dumps(doc) if isinstance(doc, dict) else unquote(doc)


def role_policies(iam, role_name: str) -> list[str]:
    """Every policy document in force for the role (attached and inline)."""
    docs = []
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                         VersionId=policy["DefaultVersionId"])
        docs.append(_document(version["PolicyVersion"]["Document"]))
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        docs.append(_document(iam.get_role_policy(RoleName=role_name,
                                                  PolicyName=name)["PolicyDocument"]))
    return docs


def iam_match(pattern: str, value: str) -> re.Match[str] | None:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` exactly one, everything else
    literal (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards).
    moto's own matcher turns only ``*`` into a regex and leaves ``?`` and ``.`` as regex syntax, so
    a grant such as ``...:secret:db-??????`` would not match (or not even compile)."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.match(f"^{regex}$", value, re.DOTALL)


def allowed(docs: list[str], action: str, resource: str) -> bool:
    """True when some policy allows ``action`` on ``resource`` and none denies it."""
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult

    IAMPolicyStatement._match = staticmethod(iam_match)  # this process only evaluates roles here

    results = [IAMPolicy(doc).is_action_permitted(action, resource) for doc in docs]
    return (PermissionResult.PERMITTED in results
            and PermissionResult.DENIED not in results)


def needed_calls(task_definition: dict, full_arn=lambda arn: arn) -> list[tuple[str, str]]:
    """``(action, resource)`` pairs ECS performs with the execution role for this task.

    IAM evaluates a secret by its full ARN, random six-character suffix included, whatever ARN
    the task definition gives ("If you use a partial ARN ... the policy must use a wildcard to
    match the suffix": https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html
    and https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen),
    so ``full_arn`` maps the ARN as written (json-key etc. cut off) to the secret's real ARN."""
    container = essential_container(task_definition)
    calls = []
    for secret in container.get("secrets", []):
        source = secret["valueFrom"]
        if ":secretsmanager:" in source:
            calls.append(("secretsmanager:GetSecretValue", full_arn(":".join(source.split(":")[:7]))))
        else:
            calls.append(("ssm:GetParameters", source if source.startswith("arn:") else "*"))
    return calls


def secret_full_arn(secretsmanager):
    """``arn -> full ARN`` of a Secrets Manager secret (the ARN as given when it cannot be found:
    IAM then evaluates the ARN the request names)."""
    def resolve(arn: str) -> str:
        try:
            return secretsmanager.describe_secret(SecretId=arn)["ARN"]
        except Exception:  # noqa: BLE001 - missing: GetSecretValue will say so with this ARN
            return arn
    return resolve


def check_execution_role(task_definition: dict, iam, secretsmanager=None) -> None:
    """Raise ``TaskStartError`` as ECS would when the role is missing, untrusted or not allowed
    (secrets are checked by their full ARN when ``secretsmanager`` is given)."""
    arn = task_definition.get("executionRoleArn")
    if not arn:
        return
    name = arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception:  # noqa: BLE001 - NoSuchEntity, or anything else that makes it unusable
        role = None
    if role is None or "ecs-tasks.amazonaws.com" not in _document(
            role.get("AssumeRolePolicyDocument", {})):
        raise TaskStartError(
            f"ECS was unable to assume the role '{arn}' that was provided for this task. Please "
            "verify that the role being passed has the proper trust relationship and permissions "
            "and that your IAM user has permissions to pass this role.")
    docs = role_policies(iam, name)
    resolve = secret_full_arn(secretsmanager) if secretsmanager is not None else (lambda arn: arn)
    for action, resource in needed_calls(task_definition, resolve):
        if not allowed(docs, action, resource):
            raise TaskStartError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                f"AccessDeniedException: User: assumed-role/{name} is not authorized to perform: "
                f"{action} on resource: {resource} because no identity-based policy allows the "
                f"{action} action")

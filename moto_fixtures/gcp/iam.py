"""IAM policies on services (getIamPolicy / setIamPolicy / testIamPermissions)."""

from __future__ import annotations

import base64
import copy
import os

from .errors import ApiError, invalid

MEMBER_PREFIXES = ("user:", "serviceAccount:", "group:", "domain:", "principal:",
                   "principalSet:", "deleted:")
MEMBER_WORDS = {"allUsers", "allAuthenticatedUsers"}


def check_policy(policy: dict) -> None:
    """Roles are 'roles/...' and members use a known identity form."""
    # IAM Policy / Binding (https://cloud.google.com/iam/docs/reference/rest/v1/Policy#Binding:
    # role "roles/...", members user:/serviceAccount:/group:/domain:/allUsers/...).
    for binding in policy.get("bindings", []):
        role = binding.get("role", "")
        if not role.startswith(("roles/", "projects/", "organizations/")):
            raise invalid(f"Role '{role}' is not valid: roles start with 'roles/'.",
                          "policy.bindings.role")
        for member in binding.get("members", []):
            if member not in MEMBER_WORDS and not member.startswith(MEMBER_PREFIXES):
                raise invalid(f"Invalid member '{member}': use user:, serviceAccount:, group:, "
                              "domain:, allUsers or allAuthenticatedUsers.",
                              "policy.bindings.members")


def set_policy(current: dict, new: dict) -> dict:
    """The stored policy after setIamPolicy; ABORTED when the caller's etag is stale."""
    # Policy.etag: "If no etag is provided ... the existing policy is overwritten"; a stale one
    # fails (https://cloud.google.com/iam/docs/policies#etag).
    if new.get("etag") and new["etag"] != current.get("etag"):
        raise ApiError("ABORTED", "There were concurrent policy changes. Please retry the whole "
                       "read-modify-write with exponential backoff.")
    check_policy(new)
    stored = copy.deepcopy(new)
    stored["version"] = stored.get("version") or 1
    stored["etag"] = base64.b64encode(os.urandom(8)).decode()
    return stored


# Roles carrying run.routes.invoke (https://cloud.google.com/run/docs/reference/iam/roles).
INVOKER_ROLES = {"roles/run.invoker", "roles/run.admin", "roles/run.servicesInvoker", "roles/owner",
                 "roles/editor"}
UNAUTHENTICATED, UNAUTHORIZED = 401, 403


def is_public(record) -> bool:
    """allUsers may invoke, or the invoker IAM check is off (``invokerIamDisabled``)."""
    return bool(record.data.get("invokerIamDisabled")) or "allUsers" in invokers(record.policy)


def invokers(policy: dict) -> set[str]:
    """Members holding a role with run.routes.invoke in ``policy``."""
    return {m for b in policy.get("bindings", []) if b.get("role") in INVOKER_ROLES
            for m in b.get("members", [])}


def bearer(headers) -> str | None:
    """The ID token a request presents. Cloud Run reads ``X-Serverless-Authorization`` first and
    then ``Authorization`` (https://cloud.google.com/run/docs/authenticating/service-to-service#acquire-token)."""
    for name in ("x-serverless-authorization", "authorization"):
        scheme, _, token = (headers.get(name) or "").strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def invoke_refusal(record, headers, verify, project_invokers: set[str]) -> int | None:
    """The status refusing a request to a service, or None to let it through. ``verify(token)``
    returns the caller's email or raises. Sources (https://cloud.google.com/run/docs/troubleshooting):
    no credentials on a private service -> 403; an ID token that is invalid, for another
    audience or expired -> 401; a caller without run.routes.invoke -> 403. Roles granted on
    the project (``project_invokers``) are inherited by every service (IAM inheritance)."""
    if is_public(record):
        return None
    token = bearer(headers)
    if token is None:
        return UNAUTHORIZED
    try:
        email = verify(token)
    except Exception:  # noqa: BLE001 - any unverifiable token is unauthenticated
        return UNAUTHENTICATED
    allowed = invokers(record.policy) | project_invokers
    members = {f"serviceAccount:{email}", f"user:{email}", "allAuthenticatedUsers"}
    return None if allowed & members else UNAUTHORIZED

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


INVOKER_ROLES = {"roles/run.invoker", "roles/run.admin", "roles/owner", "roles/editor"}


def may_invoke(record, authorization: str | None) -> bool:
    """Whether a request may reach the service (see router.py for what a token proves here)."""
    if record.data.get("invokerIamDisabled"):
        return True
    members = {m for b in record.policy.get("bindings", []) if b.get("role") in INVOKER_ROLES
               for m in b.get("members", [])}
    if "allUsers" in members:
        return True
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())

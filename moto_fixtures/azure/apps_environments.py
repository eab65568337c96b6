"""Managed environments of the emulated Microsoft.App: created as long-running operations, each
with its ingress (HTTP and HTTPS front ends) on its own static IP (apps_ingress.py)."""
from __future__ import annotations

import copy

from . import addresses
from .apps_ingress import FrontEnd, Routes
from .apps_model import Environment
from .apps_render import environment_json
from .apps_tls import issue
from .apps_validation import validate_environment
from .errors import ArmError


def not_found(kind: str, name: str, rg: str) -> ArmError:
    """404 for a Microsoft.App resource that does not exist."""
    return ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.App/{kind}/{name}' under "
                    f"resource group '{rg}' was not found. For more details please go to "
                    "https://aka.ms/ARMResourceNotFoundFix")


class EnvironmentHandlers:
    """The managedEnvironments handlers of :class:`~.apps_service.AppsService` (a mixin)."""

    # -- managed environments ------------------------------------------------------------
    def put_environment(self, sub: str, rg: str, name: str, body: dict):
        """Create a managed environment (its ingress starts on a static IP)."""
        self.arm._rg(sub, rg)
        validate_environment(name, body)
        key = (sub.lower(), rg.lower(), name.lower())
        with self.lock:
            existing = self.environments.get(key)
            if existing is not None:
                existing.body["tags"] = body.get("tags") or {}
                return 200, environment_json(existing), {}
            env = Environment(sub, self.arm._rg(sub, rg)["name"], name, copy.deepcopy(body))
            self.environments[key] = env
            op = self._begin(env.id, env.location, lambda: self._start_environment(env))
            return 201, environment_json(env), self._lro_headers(op, "managedEnvironmentOperationStatuses")

    def _start_environment(self, env: Environment) -> None:
        ip = addresses.allocate([80, 443])
        routes = Routes()
        cert = issue(self.tls_dir, f"env-{ip}", env.default_domain, ip)
        self.ingress.serve(FrontEnd(routes, https=False), ip, 80)
        self.ingress.serve(FrontEnd(routes, https=True), ip, 443, cert)
        with self.lock:
            env.static_ip = ip
            self.routes[env.id.lower()] = routes
            env.provisioning_state = "Succeeded"

    def get_environment(self, sub: str, rg: str, name: str):
        """GET a managed environment."""
        return 200, environment_json(self._environment(sub, rg, name)), {}

    def _environment(self, sub: str, rg: str, name: str) -> Environment:
        self.arm._rg(sub, rg)
        with self.lock:
            env = self.environments.get((sub.lower(), rg.lower(), name.lower()))
        if env is None:
            raise not_found("managedEnvironments", name, rg)
        return env

    def delete_environment(self, sub: str, rg: str, name: str):
        """DELETE a managed environment; refused while container apps use it."""
        env = self._environment(sub, rg, name)
        with self.lock:
            if any(a.environment is env for a in self.apps.values()):
                # an environment is deleted after its apps (modelled code)
                raise ArmError(409, "ManagedEnvironmentHasContainerApps", f"Cannot delete managed "
                               f"environment '{name}' because it has container apps.")
            self.environments.pop((sub.lower(), rg.lower(), name.lower()))
        return 200, None, {}


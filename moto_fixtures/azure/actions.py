"""Update (PATCH tags), delete, restart, stop, start and container logs of a group."""
from __future__ import annotations

from . import addresses
from .errors import ArmError, wrong_type
from .lifecycle import provision, stop_containers
from .model import ContainerRecord, Group, add_event


class GroupActions:
    """Mixed into :class:`ArmService`; relies on its store, lock and operation helpers."""

    def patch_group(self, sub: str, rg: str, name: str, body: dict):
        """ContainerGroups_Update: only the tags of a Resource can change."""
        group = self._group(sub, rg, name)
        tags = (body or {}).get("tags")
        if tags is not None and not isinstance(tags, dict):
            raise wrong_type("tags", "an object")
        with self.lock:
            if tags is not None:
                group.body["tags"] = dict(tags)
        return 200, self.render(group), {}

    def delete_group(self, sub: str, rg: str, name: str):
        """Delete a group (long-running); 204 when there is nothing to delete."""
        self._rg(sub, rg)
        key = (sub.lower(), rg.lower(), name.lower())
        with self.lock:
            group = self.groups.get(key)
            if group is None:
                return 204, None, {}
            running = self.operations.get(group.busy_operation or "")
            if group.provisioning_state == "Deleting" and running is not None:
                return 202, None, self._lro_headers(running)  # already being deleted
            group.generation += 1
            group.provisioning_state = "Deleting"
            op = self._begin(group, lambda gen: self._delete_work(key, group))
        return 202, None, self._lro_headers(op)

    def _delete_work(self, key: tuple, group: Group):
        stop_containers(group, self.runtime, self.lock)
        with self.lock:
            if self.groups.get(key) is group:
                del self.groups[key]
        addresses.release(group.ip)
        return None

    def restart_group(self, sub: str, rg: str, name: str):
        """Restart all containers in place (long-running, 204 + Azure-AsyncOperation)."""
        group = self._ready(sub, rg, name)
        with self.lock:
            group.generation += 1
            group.provisioning_state = "Pending"
            op = self._begin(group, lambda gen: self._recreate(group, gen))
        return 204, None, self._lro_headers(op)

    def start_group(self, sub: str, rg: str, name: str):
        """Start the containers of a stopped group (long-running, 202)."""
        group = self._ready(sub, rg, name)
        with self.lock:
            if group.stopped:
                group.generation += 1
                group.provisioning_state = "Pending"
                op = self._begin(group, lambda gen: self._recreate(group, gen))
            else:
                op = self._begin(group, lambda gen: None)
        return 202, None, self._lro_headers(op)

    def stop_group(self, sub: str, rg: str, name: str):
        """Stop all containers (synchronous, 204); compute is released, config is kept."""
        group = self._ready(sub, rg, name)
        with self.lock:
            group.generation += 1
            group.busy_operation = "stop"
        try:
            stop_containers(group, self.runtime, self.lock)
        finally:
            with self.lock:
                group.busy_operation = None
                group.stopped = True
                add_event(group.events, "Stopped", f"Container group '{group.name}' stopped.")
        return 204, None, {}

    def _ready(self, sub: str, rg: str, name: str) -> Group:
        group = self._group(sub, rg, name)
        with self.lock:
            if group.busy_operation:
                raise ArmError(409, "ContainerGroupTransitioning",
                               f"The container group '{name}' is still transitioning, please "
                               "retry later.")
        return group

    def _recreate(self, group: Group, generation: int):
        stop_containers(group, self.runtime, self.lock)
        with self.lock:
            for name, record in group.containers.items():
                fresh = ContainerRecord(events=record.events)
                group.containers[name] = fresh
        return provision(group, generation, self.runtime, self.lock, self.id_map)

    def container_logs(self, sub: str, rg: str, name: str, container: str,
                       tail: int | None, timestamps: bool):
        """Containers_ListLogs."""
        group = self._group(sub, rg, name)
        with self.lock:
            record = group.containers.get(container)
        if record is None:
            raise ArmError(404, "ResourceNotFound",
                           f"The container '{container}' was not found in container group "
                           f"'{name}' under resource group '{rg}'.")
        if record.docker_id:
            content = self.runtime.logs(record.docker_id, tail, timestamps)
        else:
            lines = record.saved_logs.splitlines(keepends=True)
            content = "".join(lines[-tail:] if tail else lines)
        return 200, {"content": content}, {}

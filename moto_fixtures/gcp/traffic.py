"""Traffic targets: request validation and resolution to the revisions that serve."""

from __future__ import annotations

from .errors import ApiError, invalid
from .validate import DNS_LABEL

LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
DEFAULT_TRAFFIC = [{"type": LATEST, "percent": 100}]
FIELD = "service.traffic"
# A tag URL is https://TAG---SERVICE-<hash>-<region>.a.run.app: tag and service share one DNS
# label. The API refuses more than 46 characters for both: "traffic tag '...' and service name
# '...' together are too long. Combined traffic tag and service name cannot exceed 46
# characters." (400 INVALID_ARGUMENT, quoted from the API in firebase/firebase-tools#6137 and
# PolicyEngine/policyengine-api#3729; not stated on a documentation page).
MAX_TAG_AND_SERVICE = 46


def check_traffic(traffic: list[dict], service_id: str = "") -> None:
    """Static rules: known type, revision iff REVISION, 0..100, sum 100, no duplicates, tags."""
    # traffic_target.proto TrafficTarget (type, revision "if allocation type is REVISION",
    # percent) and https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration
    # (percentages add up to 100; a revision appears once; tags are unique DNS labels).
    seen_revisions, seen_tags, total = set(), set(), 0
    for target in traffic:
        kind, revision = target.get("type"), target.get("revision")
        percent = target.get("percent", 0)
        if kind not in (LATEST, REVISION):
            raise invalid("Traffic target type must be TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST or "
                          "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION.", f"{FIELD}.type")
        if kind == REVISION and not revision:
            raise invalid("A traffic target of type REVISION must name a revision.",
                          f"{FIELD}.revision")
        if kind == LATEST and revision:
            raise invalid("A traffic target of type LATEST must not name a revision.",
                          f"{FIELD}.revision")
        if not 0 <= percent <= 100:
            raise invalid(f"Traffic percent must be between 0 and 100 (got {percent}).",
                          f"{FIELD}.percent")
        key = revision or LATEST
        if key in seen_revisions:
            raise invalid(f"Revision '{revision or 'LATEST'}' is specified more than once in "
                          "traffic targets.", FIELD)
        seen_revisions.add(key)
        check_tag(target.get("tag"), seen_tags, service_id)
        total += percent
    if traffic and total != 100:
        raise invalid(f"Traffic percents must add up to 100 (got {total}).", FIELD)


def check_tag(tag: str | None, seen: set, service_id: str = "") -> None:
    """Tags are DNS labels, unique within the service, short enough for the tag URL."""
    if not tag:
        return
    if service_id and len(tag) + len(service_id) > MAX_TAG_AND_SERVICE:
        raise invalid(f"traffic tag '{tag}' and service name '{service_id}' together are too long. "
                      f"Combined traffic tag and service name cannot exceed {MAX_TAG_AND_SERVICE} "
                      "characters.", f"{FIELD}.tag")
    if not DNS_LABEL.match(tag) or len(tag) > 63:
        raise invalid(f"Invalid traffic tag '{tag}': use lowercase letters, digits and hyphens, "
                      "starting with a letter.", f"{FIELD}.tag")
    if tag in seen:
        raise invalid(f"Traffic tag '{tag}' is used more than once.", f"{FIELD}.tag")
    seen.add(tag)


def missing_revisions(traffic: list[dict], existing: set[str]) -> list[str]:
    """Revisions named by REVISION targets that the service does not have."""
    return [t["revision"] for t in traffic if t.get("type") == REVISION
            and t["revision"] not in existing]


def resolve(traffic: list[dict], latest_ready: str | None) -> list[dict]:
    """TrafficTargetStatus entries for a spec: LATEST becomes the latest ready revision."""
    statuses = []
    for target in traffic or DEFAULT_TRAFFIC:
        status = {"type": target["type"], "percent": target.get("percent", 0)}
        status["revision"] = target.get("revision") if target["type"] == REVISION else latest_ready
        if target.get("tag"):
            status["tag"] = target["tag"]
        statuses.append({k: v for k, v in status.items() if v not in (None, "", 0)})
    return statuses


def weights(statuses: list[dict]) -> dict[str, int]:
    """Percent per revision name, for revisions that receive traffic."""
    out: dict[str, int] = {}
    for status in statuses:
        if status.get("revision") and status.get("percent", 0) > 0:
            out[status["revision"]] = out.get(status["revision"], 0) + status["percent"]
    return out


def needs_instance(statuses: list[dict]) -> set[str]:
    """Revisions that must run: those with traffic, and those reachable through a tag."""
    tagged = {s["revision"] for s in statuses if s.get("tag") and s.get("revision")}
    return set(weights(statuses)) | tagged


def referenced(traffic: list[dict]) -> set[str]:
    """Revision names the traffic spec names explicitly (any percent, tags included)."""
    return {t["revision"] for t in traffic if t.get("type") == REVISION and t.get("revision")}


def route_failure(revision: str) -> ApiError:
    """The operation error Cloud Run reports when traffic names a revision that is gone."""
    return ApiError("INTERNAL", f"Revision '{revision}' does not exist or is deleted. Update all "
                    "traffic to route to currently available revisions.")

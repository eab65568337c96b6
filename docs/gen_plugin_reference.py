"""Regenerate the reference part of docs/plugins.md from the code it documents.

    python docs/gen_plugin_reference.py          # rewrite the generated section in place
    python docs/gen_plugin_reference.py --check  # exit 1 if the file is out of date (CI runs this)

The section between the BEGIN/END markers is built from the docstrings and signatures of
``modelport.hookspecs`` (every hook), ``modelport.provider.Provider`` (every method a provider
implements or may override), the value types a provider sees or returns, ``Capabilities``, the
provider calls of each operation and its undo (from plans the strategies really make) and the
conformance suite's ``ConformanceTarget`` and clause list, so the guide cannot drift from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent / "plugins.md"
BEGIN = "<!-- BEGIN GENERATED REFERENCE (python docs/gen_plugin_reference.py) -->"
END = "<!-- END GENERATED REFERENCE -->"


def _doc(obj) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _signature(fn) -> str:
    sig = str(inspect.signature(fn)).replace("'", "")
    return f"{fn.__name__}{sig}"


def hooks() -> list[str]:
    from modelport import hookspecs

    out = [f"### Hooks (hook specs version {hookspecs.HOOKSPEC_VERSION})", ""]
    for name, fn in sorted(vars(hookspecs).items()):
        if name.startswith("modelport_") and callable(fn):
            out += [f"#### `{_signature(fn)}`", "", _doc(fn), ""]
    return out


def provider_methods() -> list[str]:
    from modelport.provider import PROVIDER_API_VERSION, Provider

    out = [f"### `Provider` (provider API version {PROVIDER_API_VERSION})", "", _doc(Provider), "",
           "Class attributes: `name`, `api_version`, `capabilities`, `settings_model`, `description`.", ""]
    abstract = Provider.__abstractmethods__
    for name, fn in Provider.__dict__.items():
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        kind = "**required**" if name in abstract else "optional (has a default)"
        out += [f"#### `{_signature(fn)}` — {kind}", "", _doc(fn), ""]
    return out


#: the value types a provider receives or returns, in the order a reader meets them
VALUE_TYPES = ("Target", "RevisionSpec", "ImageRef", "Size", "Revision", "Observed", "Health", "Resource",
               "InfraChange", "ImageRepository")


def value_types() -> list[str]:
    import modelport.provider as provider

    out = ["### Value types", "", "Frozen dataclasses from `modelport.provider`; provider-only data goes in `extra`.", ""]
    for name in VALUE_TYPES:
        cls = getattr(provider, name)
        out += [f"#### `{name}`", "", _doc(cls), "", "| field | type | default |", "|---|---|---|"]
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                default = f"`{f.default!r}`"
            elif f.default_factory is not dataclasses.MISSING:
                default = f"`{f.default_factory()!r}`"
            else:
                default = "required"
            out.append(f"| `{f.name}` | `{f.type}` | {default} |")
        out.append("")
    return out


#: what the engine calls to undo a step of each kind (see ``modelport.engine.steps``)
UNDO = {"ensure_infra": "`destroy` (only when nothing of the deployment existed before)",
        "create_revision": "`delete_revision` of the new revision",
        "update_revision": "`update_revision` back to the previous spec, then `health` until it is ready",
        "set_traffic": "`set_traffic` with the weights before (none when there were none)",
        "destroy": "none: irreversible (an interrupted operation past it can only be resumed)"}
#: what a step of each kind calls on the provider, beyond its ``primitive``
CALLS = {"wait_ready": "`health` (polled until ready)",
         "gate revision": "`health` (polled until ready), then HTTP: the smoke request to `Health.endpoint` "
                          "with `Health.headers`",
         "gate endpoint": "`health` (polled), `observe` (for `Observed.endpoint`), `endpoint_headers`, then HTTP: "
                          "the smoke request and rounds of requests whose `model_version` must match the weights",
         "record": "`observe`", "compare": "`observe` on both targets, then HTTP: the sample input on both",
         "push_image": "`registry` (then the OCI registry)", "copy_image": "`registry` of both targets"}


def operations() -> list[str]:
    """The provider calls of each operation and of its undo, read from real plans of the strategies."""
    out = ["### What each operation calls, in order", "",
           "Planned by `modelport.engine.strategies` for a provider that splits traffic, one serving "
           "revision `r1`, `keep_revisions = 1`. When a step fails, the steps before it are undone in "
           "reverse order with the calls in the last column, so a failed operation leaves what was there.", ""]
    for title, plan in _example_plans():
        out += [f"#### {title}", "", "| # | step | provider calls | undo |", "|---|---|---|---|"]
        for i, step in enumerate(plan.steps, 1):
            kind = f"gate {'endpoint' if 'endpoint' in step.via else 'revision'}" if step.op == "gate" else step.op
            calls = f"`{step.primitive}`" if step.primitive else CALLS.get(kind, "none (state store only)")
            if step.op == "gate" and step.via == "revision+endpoint":
                calls = f"{CALLS['gate revision']}; {CALLS['gate endpoint']}"
            weights = getattr(step, "weights", None)
            what = f"{step.op} {weights}" if weights else step.op
            out.append(f"| {i} | {what} | {calls} | {UNDO.get(step.op, '—')} |")
        out.append("")
    return out


def _example_plans():
    from modelport.engine import strategies
    from modelport.engine.strategies import RolloutInputs
    from modelport.engine.steps import EnsureInfra
    from modelport.provider import ImageRef, Observed, Revision, RevisionSpec, Size, Target
    from modelport.testing.memory import MemoryProvider

    image = ImageRef("sha256:" + "2" * 64, "sha256:" + "3" * 64)
    rev = RevisionSpec(deployment="demo", revision="r0", image=image, size=Size(1, 2048), port=8080, env={},
                       secrets={}, min_instances=1, max_instances=1, concurrency=10, model_name="m",
                       model_version="2", config="c2")
    target, provider = Target("t", "memory", None), MemoryProvider()
    serving = Observed("demo", (Revision("r1", "sha256:" + "1" * 64, "c1", True),), {"r1": 100}, "http://e",
                       ("router",))
    first = RolloutInputs(kind="deploy", provider=provider, target=target, observed=Observed("demo"), revision=rev,
                          strategy="blue-green", steps=(100,), keep=1,
                          before=(EnsureInfra(target="t", desc="ensure", fresh=True),))
    swap = dict(kind="swap", provider=provider, target=target, observed=serving, revision=rev, steps=(10, 100),
                keep=1, known=("r1",))
    yield "First deploy (any strategy)", strategies.plan_rollout(first)
    for strategy in ("blue-green", "canary"):
        yield f"Swap, {strategy}" + (" (steps 10, 100)" if strategy == "canary" else ""), strategies.plan_rollout(RolloutInputs(**swap, strategy=strategy))
    dest = RolloutInputs(**{**vars(first), "target": Target("u", "memory", None),
                            "before": (EnsureInfra(target="u", desc="ensure", fresh=True),)})
    yield "Migrate from t to u with --retire-source (calls on u, then t)", strategies.plan_migration(
        strategies.plan_rollout(dest), "t", True, [])
    yield "Rollback to r1 (r2 serving)", strategies.plan_rollback(
        target, Observed("demo", (*serving.revisions, Revision("r2", image.digest, "c2", True)), {"r2": 100}),
        "demo", None, [])
    provider.http.close()


def capabilities() -> list[str]:
    from modelport.provider import Capabilities

    out = ["### `Capabilities`", "", _doc(Capabilities), "", "| field | default |", "|---|---|"]
    for f in dataclasses.fields(Capabilities):
        default = "required" if f.default is dataclasses.MISSING else repr(f.default)
        out.append(f"| `{f.name}` | `{default}` |")
    return out + [""]


def conformance() -> list[str]:
    from modelport.testing.conformance import ProviderConformance
    from modelport.testing.harness import ConformanceTarget

    out = ["### Conformance suite", "", "#### `ConformanceTarget`", "", _doc(ConformanceTarget), "",
           "#### Tests of `ProviderConformance` (run in this order)", ""]
    for name, fn in ProviderConformance.__dict__.items():
        if name.startswith("test_"):
            needs = ProviderConformance.clause_needs.get(name)
            after = f" *(skipped when {', '.join(f'`{n}`' for n in needs)} failed)*" if needs else ""
            out.append(f"* `{name}` — {_doc(fn).splitlines()[0]}{after}")
    return out + [""]


def generated() -> str:
    lines = [BEGIN, "", *hooks(), *provider_methods(), *value_types(), *capabilities(), *operations(),
             *conformance(), END]
    return "\n".join(lines)


def render(text: str) -> str:
    """``text`` (the whole guide) with its generated section replaced."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + generated() + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/plugins.md is out of date")
    args = parser.parse_args()
    current = DOC.read_text()
    if BEGIN not in current or END not in current:
        print(f"{DOC}: the generated-reference markers are missing", file=sys.stderr)
        return 1
    wanted = render(current)
    if args.check:
        if wanted != current:
            print(f"{DOC} is out of date: run python docs/gen_plugin_reference.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())

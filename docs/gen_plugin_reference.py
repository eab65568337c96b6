"""Regenerate the reference part of docs/plugins.md from the code it documents.

    python docs/gen_plugin_reference.py          # rewrite the generated section in place
    python docs/gen_plugin_reference.py --check  # exit 1 if the file is out of date (CI runs this)

The section between the BEGIN/END markers is built from the docstrings and signatures of
``modelport.hookspecs`` (every hook), ``modelport.provider.Provider`` (every method a provider
implements or may override), ``Capabilities`` and the conformance suite's ``ConformanceTarget``
and test list, so the guide cannot drift from the code.
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
            out.append(f"* `{name}` — {_doc(fn).splitlines()[0]}")
    return out + [""]


def generated() -> str:
    lines = [BEGIN, "", *hooks(), *provider_methods(), *capabilities(), *conformance(), END]
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

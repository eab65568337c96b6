"""``modelport new-provider NAME``: a provider package to start from.

It writes ``modelport-NAME/`` with a pyproject registering the entry point, a settings model, a
provider skeleton shaped like the in-memory provider (:mod:`modelport.testing.memory`) and the
conformance suite's conftest, so that ``pip install -e .`` and ``pytest -m conformance_pure``
pass at once and ``pytest`` lists what is left to write.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from ..errors import UsageError

#: template file -> where it goes in the package (``{module}`` is the Python package's name)
FILES = {"pyproject.toml.tmpl": "pyproject.toml", "README.md.tmpl": "README.md",
         "plugin.py.tmpl": "{module}/plugin.py", "settings.py.tmpl": "{module}/settings.py",
         "provider.py.tmpl": "{module}/provider.py", "conftest.py.tmpl": "tests/conftest.py",
         "test_conformance.py.tmpl": "tests/test_conformance.py"}

NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")


def check_name(name: str) -> None:
    """A provider name is what a spec writes after ``provider =``: a short lowercase identifier."""
    if not NAME.fullmatch(name):
        raise UsageError(f"provider name {name!r} is not a lowercase identifier (a-z, 0-9, _; starting with a "
                         "letter; at most 31 characters)", hint="e.g. `modelport new-provider fly`")


def write_package(name: str, parent: Path) -> Path:
    """Write the package for provider ``name`` under ``parent``; return its folder."""
    check_name(name)
    folder = parent / f"modelport-{name.replace('_', '-')}"
    if folder.exists():
        raise UsageError(f"{folder} already exists", hint="remove it or choose another --path")
    values = {"name": name, "module": f"modelport_{name}", "cls": "".join(p.title() for p in name.split("_")) + "Provider"}
    templates = resources.files(__package__) / "templates"
    for source, dest in FILES.items():
        path = folder / dest.format(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(templates.joinpath(source).read_text()).substitute(values))
    (folder / values["module"] / "__init__.py").write_text(f'"""modelport provider {name}."""\n')
    return folder

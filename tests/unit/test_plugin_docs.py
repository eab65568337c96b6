"""docs/plugins.md cannot drift from the code: its reference section is regenerated from the hook
specs, the Provider class and the conformance suite, and must equal what is committed."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_plugin_reference_is_up_to_date():
    proc = subprocess.run([sys.executable, str(DOCS / "gen_plugin_reference.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_reference_covers_every_hook_and_provider_method():
    from modelport import hookspecs
    from modelport.provider import Provider

    text = (DOCS / "plugins.md").read_text()
    for name in dir(hookspecs):
        if name.startswith("modelport_"):
            assert f"`{name}(" in text, name
    for name, fn in vars(Provider).items():
        if inspect.isfunction(fn) and not name.startswith("_"):
            assert f"`{name}(" in text, name


def test_check_fails_when_the_docs_drift(tmp_path, monkeypatch):
    sys.path.insert(0, str(DOCS))
    try:
        import gen_plugin_reference as gen
    finally:
        sys.path.remove(str(DOCS))
    stale = tmp_path / "plugins.md"
    stale.write_text((DOCS / "plugins.md").read_text().replace("is polled by", "was polled by")
                     .replace("Register the providers", "Register providers"))
    monkeypatch.setattr(gen, "DOC", stale)
    monkeypatch.setattr(sys, "argv", ["gen", "--check"])
    assert gen.main() == 1          # the hook docstring changed in the generated part
    monkeypatch.setattr(sys, "argv", ["gen"])
    assert gen.main() == 0 and "Register the providers" in stale.read_text()

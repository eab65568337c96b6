"""How the suite spends its time budget (loaded from ``tests/conftest.py``).

* ``@pytest.mark.timing("why")`` -- the test depends on timing that a loaded 2-core machine can
  upset (a race, a deadline, a background poller). Only these are run once more when they fail
  (pytest-rerunfailures' ``flaky`` marker), and every rerun is listed at the end of the run with
  its test and the first line of the failure that caused it. No other test is ever rerun.
* ``@pytest.mark.alone("why")`` -- the test must not share the machine with other tests (it
  changes something engine-wide). ``scripts/test.sh`` runs these in a second, serial pytest run
  after the parallel one (``-m alone``); the parallel run leaves them out.
* Scheduling under pytest-xdist (``scripts/test.sh``: ``--dist loadscope``): each module, or each
  test class, is one unit of work that one worker runs, so module- and class-scoped fixtures (a
  deployment, an emulator) are set up once. Units are handed out longest first, from the
  durations of a full run kept in ``tests/durations.json`` (longest-processing-time first keeps
  the workers finishing together); a unit not in the file counts as short. Modules in
  ``SPLIT`` are cut into one unit per test: their tests are long and share nothing costly.
* ``--save-durations FILE`` writes every test's duration (setup + call + teardown, seconds) as
  JSON; ``scripts/test.sh`` saves them for its summary, and ``tests/durations.json`` is such a
  file, refreshed by hand from a full run (``python scripts/slowest.py --update``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")

#: modules whose tests are each their own unit of work (each test is long and sets up its own:
#: a function-scoped runner and deployment; the session's image builds are cached per worker)
SPLIT: frozenset[str] = frozenset({"tests/crash/test_local_crashes.py", "tests/crash/test_cloud_crashes.py"})

_reruns: list[tuple[str, str]] = []
_seconds: dict[str, float] = defaultdict(float)


#: modules parametrized by a module-scoped fixture (one cloud each): one unit per parameter
BY_PARAM: frozenset[str] = frozenset({"tests/security/test_secret_scan_clouds.py"})


def scope_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its class or module, itself in a ``SPLIT`` module, or
    its module's tests with the same parameter in a ``BY_PARAM`` module."""
    path = nodeid.split("::", 1)[0]
    if path in SPLIT:
        return nodeid
    if path in BY_PARAM and nodeid.endswith("]"):
        return f"{path}[{nodeid.rsplit('[', 1)[1]}"
    return nodeid.rsplit("::", 1)[0]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--save-durations", metavar="FILE", default=None,
                     help="write each test's duration (setup + call + teardown) to FILE as JSON")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timing(reason): depends on timing; rerun once when it fails, "
                                       "and the rerun is reported")
    config.addinivalue_line("markers", "alone(reason): must run without other tests in parallel "
                                       "(scripts/test.sh runs these serially after the rest)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timing") is not None and item.get_closest_marker("flaky") is None:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))
    weights = _scope_weights(items)
    # longest unit first; inside a unit the collection order stays (classes rely on it)
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(scope_of(item.nodeid), index)
    # ties keep each unit's items together, in the order the units were collected
    items.sort(key=lambda item: (-weights[scope_of(item.nodeid)], first[scope_of(item.nodeid)]))


def _scope_weights(items: list[pytest.Item]) -> dict[str, float]:
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    weights: dict[str, float] = defaultdict(float)
    for item in items:
        weights[scope_of(item.nodeid)] += known.get(item.nodeid, 0.5)
    return weights


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """loadscope with our units (``scope_of``) and our order (the collection's: longest first)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BudgetScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    config.option.loadscopereorder = False  # keep our order, not "most tests first"
    return BudgetScheduling(config, log)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.nodeid] += report.duration
    if report.outcome == "rerun":
        _reruns.append((report.nodeid, _cause(report)))


def _cause(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "(no message)")
    return first[:300]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--save-durations")
    if path and not hasattr(session.config, "workerinput"):  # the controller has every report
        Path(path).write_text(json.dumps({k: round(v, 2) for k, v in sorted(_seconds.items())}, indent=0))


def pytest_terminal_summary(terminalreporter) -> None:
    if not _reruns:
        return
    terminalreporter.section(f"reruns: {len(_reruns)} timing-dependent test(s) failed once and ran again")
    for nodeid, cause in _reruns:
        terminalreporter.write_line(f"RERUN {nodeid}: {cause}")

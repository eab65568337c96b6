"""Lets ``python -m moto_fixtures.services up|down --run-dir DIR`` work."""

import sys

from moto_fixtures.services.cli import main

sys.exit(main())

"""Hypothesis settings for the unit tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Nothing written into the work tree (Hypothesis keeps examples and caches in ./.hypothesis by default), and no
# deadline: a slow CI machine is not a failure.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "rennet-hypothesis"))
settings.register_profile("unit", database=None, deadline=None)
settings.load_profile("unit")

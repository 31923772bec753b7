"""Planning `rennet mirror`: requirements and lock files, target environments, file choice, a greedy resolver.

Pure, like the rest of the domain. The service feeds the planner pages and metadata as it fetches them
(`Plan`); the readers turn requirements files, `pylock.toml` and `uv.lock` into what the plan wants. The
`_`-modules are the planner's own.
"""

from rennet.domain.mirror.lockfiles import (
    InvalidLockfile,
    LockedFile,
    LockedFiles,
    read_pylock,
    read_uv_lock,
    select_for_targets,
)
from rennet.domain.mirror.plan import MirrorOptions, Plan, PlanResult
from rennet.domain.mirror.requirements import (
    ParsedRequirements,
    WantedItem,
    parse_requirements,
    parse_requirements_text,
)
from rennet.domain.mirror.targets import InvalidTarget, Target, make_targets

__all__ = [
    "InvalidLockfile",
    "InvalidTarget",
    "LockedFile",
    "LockedFiles",
    "MirrorOptions",
    "ParsedRequirements",
    "Plan",
    "PlanResult",
    "Target",
    "WantedItem",
    "make_targets",
    "parse_requirements",
    "parse_requirements_text",
    "read_pylock",
    "read_uv_lock",
    "select_for_targets",
]

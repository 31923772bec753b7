"""An index's policy as one worker applies it: pages screened as they are built (never on the hot path, which
serves what was screened), refusals logged on logger "rennet.policy" and counted for /metrics."""

from __future__ import annotations

import logging
from collections import defaultdict

from rennet.domain.files import ProjectPage
from rennet.domain.policy import Policy, Refusal, Screened
from rennet.service.errors import ServiceError
from rennet.service.runtime.metrics import WorkerMetrics

__all__ = ["PolicyGate", "refused"]

log = logging.getLogger("rennet.policy")

_NAMED = 10  # files named per rule in one log line; a page may hold back hundreds


class PolicyGate:
    """One index's policy, with what it reports to."""

    __slots__ = ("index", "level", "metrics", "policy")

    def __init__(self, index: str, policy: Policy, metrics: WorkerMetrics, level: int = logging.INFO) -> None:
        self.index = index
        self.policy = policy
        self.metrics = metrics
        self.level = level  # of the lines saying what a page hides

    def __bool__(self) -> bool:
        return bool(self.policy)

    def screen(self, page: ProjectPage, now: float) -> Screened:
        """The page as the policy lets it be seen at `now`; what it hides is logged (one line per page and rule)
        and counted (once per file each time this worker builds the page)."""
        screened = self.policy.screen(page, now)
        by_rule: dict[str, list[str]] = defaultdict(list)
        for filename, refusal in screened.hidden.items():
            by_rule[refusal.rule].append(filename)
        for rule, filenames in by_rule.items():
            self.metrics.policy(self.index, rule, "hidden", len(filenames))
            more = f" and {len(filenames) - _NAMED} more" if len(filenames) > _NAMED else ""
            log.info("%s/%s: %s hides %s%s", self.index, page.name, rule, ", ".join(filenames[:_NAMED]), more)
        return screened


def refused(metrics: WorkerMetrics, refusal: Refusal) -> ServiceError:
    """A request for a file the policy holds back: 403, the rule's sentence; logged and counted."""
    metrics.policy(refusal.index, refusal.rule, "refused")
    log.warning("refused: %s", refusal.message)
    return ServiceError(403, refusal.message)

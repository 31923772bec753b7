"""An index's policy as one worker applies it: pages screened as they are built (never on the hot path, which
serves what was screened), refusals logged on logger "rennet.policy" and counted for /metrics."""

from __future__ import annotations

import logging
from collections import defaultdict

from rennet.domain.advisories import Advisory, AdvisoryRule
from rennet.domain.files import ProjectPage
from rennet.domain.indexes import IndexConfig, policy_of
from rennet.domain.policy import Policy, Refusal, Screened
from rennet.service.errors import ServiceError
from rennet.service.runtime.metrics import WorkerMetrics

__all__ = ["PolicyGate", "refused"]

log = logging.getLogger("rennet.policy")

_NAMED = 10  # files named per rule in one log line; a page may hold back hundreds


class PolicyGate:
    """One index's policy, with what it reports to."""

    __slots__ = ("index", "level", "malicious", "metrics", "policy", "vulnerable")

    def __init__(
        self,
        index: str,
        policy: Policy,
        metrics: WorkerMetrics,
        level: int = logging.INFO,
        malicious: bool = False,
        vulnerable: bool = False,
    ) -> None:
        self.index = index
        self.policy = policy
        self.metrics = metrics
        self.level = level  # of the lines saying what a page hides
        self.malicious = malicious  # advisories of these kinds hold files back (block_malicious, block_vulnerable)
        self.vulnerable = vulnerable

    @classmethod
    def of(cls, config: IndexConfig, metrics: WorkerMetrics, proxies: frozenset[str] = frozenset()) -> PolicyGate:
        """An index's own gate: its rules, and the advisories it blocks."""
        policy = policy_of(config, proxies)
        return cls(config.name, policy, metrics, malicious=config.block_malicious, vulnerable=config.block_vulnerable)

    def applies(self, advisories: tuple[Advisory, ...]) -> bool:
        """Whether a page with these advisories needs screening at all (most need none: nothing to do)."""
        return bool(self.policy) or (bool(advisories) and (self.malicious or self.vulnerable))

    def screen(self, page: ProjectPage, now: float, advisories: tuple[Advisory, ...] = ()) -> Screened:
        """The page as the policy lets it be seen at `now`, given the project's advisories; what it hides is
        logged (one line per page and rule) and counted (once per file each time this worker builds the page)."""
        policy = self.policy
        if advisories and (self.malicious or self.vulnerable):
            blocking = AdvisoryRule(self.index, advisories, self.malicious, self.vulnerable)
            policy = Policy((*policy.rules, blocking))
        screened = policy.screen(page, now)
        by_rule: dict[str, list[str]] = defaultdict(list)
        for filename, refusal in screened.hidden.items():
            by_rule[refusal.rule].append(filename)
        for rule, filenames in by_rule.items():
            self.metrics.policy(self.index, rule, "hidden", len(filenames))
            more = f" and {len(filenames) - _NAMED} more" if len(filenames) > _NAMED else ""
            log.log(
                self.level, "%s/%s: %s hides %s%s", self.index, page.name, rule, ", ".join(filenames[:_NAMED]), more
            )
        return screened


def refused(metrics: WorkerMetrics, refusal: Refusal) -> ServiceError:
    """A request for a file the policy holds back: 403, the rule's sentence; logged and counted."""
    metrics.policy(refusal.index, refusal.rule, "refused")
    log.warning("refused: %s", refusal.message)
    return ServiceError(403, refusal.message)

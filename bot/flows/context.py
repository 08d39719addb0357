"""What the composition root hands to every flow: capture settings and the admin's address."""

from __future__ import annotations

from dataclasses import dataclass

from domain.cases.capture_gate import CaptureContext
from domain.ledgers.major_incidents import DEFAULT_INCIDENT_RULES, IncidentRules


@dataclass(frozen=True)
class FlowContext:
    """Dependencies of the chat flows, built once in `fieldops.bootstrap`.

    `incidents` are the configured thresholds of Q4 and K2 the /loss flow reports under.
    `public_url` is the admin site's address as seen from a phone (https); when empty, the
    bot offers no "open in web" links.
    """

    capture: CaptureContext
    incidents: IncidentRules = DEFAULT_INCIDENT_RULES
    public_url: str = ""

    def web_link(self, path: str) -> str:
        """An absolute admin link for a button, or "" when no public address is set."""
        return f"{self.public_url.rstrip('/')}{path}" if self.public_url else ""

"""What every target's client shares: one JsonApi, closed with it, counted for the deploy report."""

from __future__ import annotations

from deployer.targets.http import JsonApi


class ApiTarget:
    """A target location talking to its server through `self.api` (set by the subclass)."""

    name: str
    label: str
    api: JsonApi

    def close(self) -> None:
        self.api.close()

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

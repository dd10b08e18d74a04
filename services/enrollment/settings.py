"""Environment variables of the enrollment service (documented in the README)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.registry import PROCESSES
from common.settings import DEV_DATABASE, ServiceSettings, role_url


class EnrollmentSettings(ServiceSettings):
    DATABASE_ROLE = PROCESSES["enrollment"].role
    DATABASE_URL: str = Field(role_url(DEV_DATABASE, DATABASE_ROLE), repr=False)  # a password
    SEASON_YEAR: int = 2027  # services/enrollment/seasons/<year>.toml
    # "dates": each phase open on the season file's dates; "open": every phase open (the demo
    # and the tests).
    SEASON_PHASES: Literal["dates", "open"] = "dates"

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.SEASON_PHASES == "open":
            problems.append("SEASON_PHASES=open ignores the season's dates")
        return problems

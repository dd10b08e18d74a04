"""Environment variables of the documents service (documented in the README)."""

from __future__ import annotations

import os

from pydantic import Field

from common.registry import PROCESSES
from common.settings import DEV_DATABASE, ServiceSettings, role_url


class DocumentsSettings(ServiceSettings):
    DATABASE_ROLE = PROCESSES["documents"].role
    DATABASE_URL: str = Field(role_url(DEV_DATABASE, DATABASE_ROLE), repr=False)  # a password
    # Where schools check a printout: its QR code links to <PUBLIC_BASE_URL>/verify/<token>.
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"
    # Worker processes that render forms (one per core makes the most of them); each is
    # replaced after DOCUMENTS_RENDERS_PER_WORKER forms, which bounds its memory.
    DOCUMENTS_RENDER_WORKERS: int = Field(os.cpu_count() or 2, ge=1, le=64)
    DOCUMENTS_RENDERS_PER_WORKER: int = Field(100, ge=1)
    DOCUMENTS_RENDER_TIMEOUT_S: float = Field(30.0, gt=0)

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if not self.PUBLIC_BASE_URL.startswith("https://"):
            problems.append("PUBLIC_BASE_URL must be https:// (it is printed on every form)")
        return problems

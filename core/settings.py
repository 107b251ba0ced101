"""All configuration, read from environment variables prefixed ``OMS_``.

One object so every process (API, worker, dev stack, tests) agrees on ports, URLs and policy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = Path(".oms")


class Settings(BaseSettings):
    """Process configuration. Every field can be set as ``OMS_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="OMS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{STATE_DIR}/oms.db",
        description="SQLAlchemy URL of the OMS database; postgresql+psycopg://... in production",
    )
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "oms-orders"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = Field(
        default="", description="Base URL used in links (status URLs); defaults to http://host:port"
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    mail_from: str = "OMS Shop <orders@oms.example>"
    mail_ui_port: int = 8025

    state_dir: Path = Field(default=STATE_DIR,
                            description="Embedded stack's files: logs, mail, SQLite databases")
    temporal_ui_port: int = 8233
    temporal_dev_db: str = Field(
        default=f"{STATE_DIR}/temporal.db", description="Dev server's SQLite file (embedded stack)"
    )

    tracking_url_template: str = "https://tracking.example/track?carrier={carrier}&id={tracking}"
    payment_sim_latency_ms: int = Field(
        default=0, ge=0, description="Simulated payment provider latency, for tests and benches"
    )
    policy_file: str = Field(default="", description="TOML order policy; empty = defaults")
    routing_strategy: str = Field(default="optimiser", description="optimiser or a baseline")
    routing_time_limit_s: float = Field(default=0.5, gt=0)
    worker_max_concurrent_activities: int = 50

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.api_host}:{self.api_port}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

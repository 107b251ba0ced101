"""All configuration, read from environment variables prefixed ``OMS_``.

One object so every process (API, worker, dev stack, tests) agrees on ports, URLs and policy.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = Path(".oms")
DEV_SECRETS = {  # public: fine for the embedded stack and tests, refused in production
    "webhook_secret_payment": "oms-dev-payment-webhook-not-for-production",
    "webhook_secret_carrier": "oms-dev-carrier-webhook-not-for-production",
    "webhook_secret_warehouse": "oms-dev-warehouse-webhook-not-for-production",
}


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
    max_request_bytes: int = Field(
        default=1 << 20,
        gt=0,
        description="largest request body the API accepts (413 beyond "
        "it, nothing changed); stock feed uploads have max_feed_bytes",
    )
    max_feed_bytes: int = Field(
        default=1 << 30, gt=0, description="largest stock feed upload (streamed to disk)"
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    mail_from: str = "OMS Shop <orders@oms.example>"
    mail_ui_port: int = 8025
    email_template_dir: str = Field(
        default="", description="your own e-mail templates; missing ones fall back to built-ins"
    )

    state_dir: Path = Field(
        default=STATE_DIR, description="Embedded stack's files: logs, mail, SQLite databases"
    )
    temporal_ui_port: int = 8233
    temporal_dev_db: str = Field(
        default=f"{STATE_DIR}/temporal.db", description="Dev server's SQLite file (embedded stack)"
    )

    tracking_url_template: str = "https://tracking.example/track?carrier={carrier}&id={tracking}"
    event_clock_skew: timedelta = Field(
        default=timedelta(minutes=5),
        ge=timedelta(0),
        description="how far a shipment event's `at` may lie ahead of our clock (a sender's "
        "clock running fast); later is refused with 422 naming `at`",
    )
    payment_sim_latency_ms: int = Field(
        default=0, ge=0, description="Simulated payment provider latency, for tests and benches"
    )
    payment_sim_failure_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of simulated provider calls that fail like an "
        "outage (half before, half after the provider booked them), for fault benches",
    )
    payment_provider: Literal["simulated", "stripe"] = Field(
        default="simulated",
        description="who moves the money: the simulated ledger, or Stripe "
        "(activities/payments/stripe_provider.py)",
    )
    stripe_api_key: SecretStr = Field(
        default=SecretStr(""), description="Stripe secret key (sk_...); needed with stripe"
    )
    stripe_api_base: str = Field(
        default="https://api.stripe.com",
        description="Stripe API base URL; tests point it at a local emulator (localstripe)",
    )
    stripe_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="signing secret of the Stripe webhook endpoint (whsec_...); "
        "empty: POST /webhooks/stripe refuses every event",
    )
    stripe_test_payment_method: str = Field(
        default="pm_card_visa",
        description="payment method charged for card/wallet orders while the order carries "
        "only the method's name (tests and demo; Stripe test ids such as pm_card_visa)",
    )
    policy_file: str = Field(default="", description="TOML order policy; empty = defaults")
    routing_strategy: str = Field(default="optimiser", description="optimiser or a baseline")
    routing_time_limit_s: float = Field(default=0.5, gt=0)
    routing_profiles_file: str = Field(
        default="",
        description="routing rule profiles per customer group (TOML); empty: built-in default",
    )
    worker_max_concurrent_activities: int = 50
    workers: int = Field(
        default=1,
        ge=1,
        description="worker processes `python -m devstack up` and the load bench start on this "
        "machine, each with its own metrics port (docker compose: --scale worker=N)",
    )

    # ---- observability: logs and metrics ---------------------------------------------------
    log_format: Literal["console", "json"] = Field(
        default="console", description="json: one JSON object per line, for log collectors"
    )
    log_level: str = Field(default="INFO", description="root log level")
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        description="Prometheus endpoint of the worker (Temporal SDK and OMS "
        "worker metrics) on 0.0.0.0:<port>; 0 = off",
    )

    # ---- security: environment and webhook secrets ----------------------------------------
    environment: Literal["development", "production"] = Field(
        default="development", description="production refuses the public dev secrets"
    )
    webhook_secret_payment: str = Field(
        default=DEV_SECRETS["webhook_secret_payment"],
        description="HMAC secret of the payment provider",
    )
    webhook_secret_carrier: str = Field(
        default=DEV_SECRETS["webhook_secret_carrier"], description="HMAC secret of carriers"
    )
    webhook_secret_warehouse: str = Field(
        default=DEV_SECRETS["webhook_secret_warehouse"],
        description="HMAC secret of warehouse systems",
    )

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            public = [
                name
                for name in (*DEV_SECRETS, "session_secret", "self_service_secret")
                if "not-for-production" in str(getattr(self, name))
                or getattr(self, name) == DEV_SECRETS.get(name)
            ]
            if public:
                raise ValueError(
                    "production needs your own secrets, not the public dev "
                    "defaults: set " + ", ".join(f"OMS_{n.upper()}" for n in public)
                )
        return self

    def webhook_secret(self, source: str) -> str:
        return str(getattr(self, f"webhook_secret_{source}"))

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.api_host}:{self.api_port}"

    # ---- inventory: holds, channels, promises, feeds, replenishment ------------------------
    hold_ttl_checkout_s: int = Field(default=900, gt=0, description="checkout hold lifetime")
    hold_ttl_reserve_collect_s: int = Field(
        default=172_800, gt=0, description="reserve & collect hold lifetime"
    )
    hold_max_ttl_s: int = Field(default=1_209_600, gt=0, description="longest hold accepted")
    hold_cleanup_interval_s: int = Field(
        default=60, gt=0, description="how often the schedule ends expired holds"
    )
    order_sweep_interval_s: int = Field(
        default=60, gt=0, description="how often the schedule starts orders left without a workflow"
    )
    order_sweep_grace_s: float = Field(
        default=300,
        ge=0,
        description="age of a recorded order without a workflow before the sweep starts it "
        "(the API's own start and the caller's retry go first)",
    )
    store_online_buffer: int = Field(
        default=2, ge=0, description="units of a store's stock not sold online"
    )
    promise_strategy: str = Field(default="optimiser", description="routing for promises")
    promise_time_limit_s: float = Field(default=0.05, gt=0)
    feed_chunk_rows: int = Field(default=1000, gt=0, description="feed rows per transaction")
    feed_stale_after_s: int = Field(
        default=120, gt=0, description="an unfinished feed this quiet may be re-posted"
    )
    replenishment_demand_days: int = Field(default=28, gt=0, description="demand window")
    replenishment_review_days: int = Field(default=7, gt=0)
    replenishment_supplier_lead_days: int = Field(default=7, ge=0)
    replenishment_transfer_lead_days: int = Field(default=2, ge=0)

    vat_rates: dict[str, float] = Field(
        default_factory=lambda: {"standard": 19.0, "reduced": 7.0, "zero": 0.0},
        description="VAT rate in percent per VAT class named by the catalogue "
        '(OMS_VAT_RATES=\'{"standard": 19, "reduced": 7}\')',
    )
    masterdata_chunk_rows: int = Field(
        default=2000, gt=0, description="catalogue/location import rows per transaction"
    )
    # ---- invoices: the seller as §14 UStG wants it on every invoice ---------------------------
    invoice_issuer_name: str = Field(default="OMS Demo Handel GmbH", min_length=1)
    invoice_issuer_street: str = Field(default="Musterstraße 1", min_length=1)
    invoice_issuer_postcode: str = Field(default="10115", min_length=1)
    invoice_issuer_city: str = Field(default="Berlin", min_length=1)
    invoice_issuer_vat_id: str = Field(
        default="DE123456788", description="USt-IdNr. printed on every invoice (demo value)"
    )
    invoice_issuer_tax_number: str = ""
    invoice_issuer_email: str = ""

    masterdata_dir: Path | None = Field(
        default=None,
        description="a folder of master-data files (catalogue.csv, locations.csv, stock.csv, "
        "carriers.toml) that the production `prepare` step loads; loading it again is harmless",
    )

    # ---- store and vendor portal -----------------------------------------------------------
    session_secret: str = Field(
        default="oms-dev-session-secret-not-for-production",
        min_length=16,
        description="signs portal session cookies; the same in every API process. The default "
        "is public and only fit for the embedded stack: set your own in production",
    )
    portal_session_hours: int = Field(default=12, gt=0, description="portal login lifetime")

    # ---- returns and customer self-service -------------------------------------------------
    self_service_secret: str = Field(
        default="oms-dev-self-service-secret-not-for-production",
        min_length=16,
        description="signs the customer's self-service link of an order (HMAC); the same in "
        "every API process. The default is public: set your own in production",
    )

    # ---- AI agents (the MCP server, api/mcp/) -----------------------------------------------
    agent_verify_max_failures: int = Field(
        default=5,
        ge=1,
        description="failed caller verifications per order number within the window; more are "
        "refused without checking, whatever is asked",
    )
    agent_verify_max_failures_per_key: int = Field(
        default=50,
        ge=1,
        description="failed caller verifications per agent key within the window (guessing "
        "across many order numbers)",
    )
    agent_verify_window_s: int = Field(
        default=900, gt=0, description="the window over which failed verifications are counted"
    )
    agent_verification_ttl_s: int = Field(
        default=3600,
        gt=0,
        description="how long a verified caller's grant (the token verify_customer returns) holds",
    )

    # ---- outbound events (signed webhooks to subscribers) ----------------------------------
    outbound_dispatch_interval_s: int = Field(
        default=5, gt=0, description="how often the outbound dispatcher looks for due deliveries"
    )
    outbound_max_attempts: int = Field(
        default=10, ge=1, description="attempts of one delivery before it is marked failed"
    )
    outbound_retry_base_s: float = Field(
        default=10.0, gt=0, description="wait after the first failed attempt; doubles each time"
    )
    outbound_retry_max_s: float = Field(
        default=3600.0, gt=0, description="longest wait between two attempts"
    )
    outbound_timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout per attempt")
    outbound_batch: int = Field(
        default=50, gt=0, description="deliveries posted concurrently per dispatch round"
    )
    outbound_dispatcher_max_rounds: int = Field(
        default=360,
        gt=0,
        description="dispatch rounds of the long-running outbound dispatcher before it "
        "continues as new (sooner when Temporal suggests it); 360 idle rounds of 5 s: 30 min",
    )
    idempotency_retention_h: int = Field(
        default=24, gt=0, description="how long an answer is kept under its Idempotency-Key"
    )
    # back-pressure (api/http/admission.py)
    admission_max_backlog_s: float = Field(
        default=2.0,
        ge=0,
        description="new orders are answered 503 + Retry-After while the oldest task waiting for "
        "a worker is older than this (0: never shed)",
    )
    admission_check_interval_s: float = Field(
        default=1.0, gt=0, description="how often the API reads the task queues' backlog"
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

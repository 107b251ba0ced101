"""Custom search attributes of order workflows, so ops can filter in the Temporal UI.

Registered when the dev server starts (``--search-attribute``) and by the compose setup.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")

ALL = [ORDER_STATUS, CHANNEL, CUSTOMER_ID]


def cli_flags() -> list[str]:
    """``temporal server start-dev`` flags that register every attribute."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags

"""Custom search attributes of order workflows, so ops can filter in the Temporal UI.

Registered when the dev server starts (``--search-attribute``), by ``python -m devstack
prepare`` on a cluster, and by the test fixtures. The README lists the queries ops use.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeIndexedValueType as Kind
from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
PAYMENT_METHOD = SearchAttributeKey.for_keyword("PaymentMethod")
FULFILMENT_LOCATIONS = SearchAttributeKey.for_keyword_list("FulfilmentLocations")
ORDER_TOTAL = SearchAttributeKey.for_int("OrderTotalCents")
RISK_OUTCOME = SearchAttributeKey.for_keyword("RiskOutcome")
LATE = SearchAttributeKey.for_bool("Late")

ALL: list[SearchAttributeKey[Any]] = [
    ORDER_STATUS,
    CHANNEL,
    CUSTOMER_ID,
    PAYMENT_METHOD,
    FULFILMENT_LOCATIONS,
    ORDER_TOTAL,
    RISK_OUTCOME,
    LATE,
]

_CLI_TYPE = {
    Kind.KEYWORD: "Keyword",
    Kind.KEYWORD_LIST: "KeywordList",
    Kind.INT: "Int",
    Kind.BOOL: "Bool",
}


def cli_flags() -> list[str]:
    """``temporal server start-dev`` flags that register every attribute."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type]}"]
    return flags

"""Registers the OMS's custom search attributes on a Temporal namespace (idempotent).

The dev server gets them on its command line; a production cluster gets them from this, run
once at deployment (``python -m devstack prepare``).
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from workflows.search_attributes import ALL


def wanted() -> dict[str, IndexedValueType.ValueType]:
    """Every attribute by name with its index type, as the operator API wants them."""
    return {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in ALL}


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the attributes the namespace lacks; returns the names it added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        name: kind for name, kind in wanted().items() if name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)

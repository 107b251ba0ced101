"""Fulfilment: shipments released, tracked, withdrawn and resized; vouchers."""

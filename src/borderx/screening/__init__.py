"""Screening: shipment → matching designations and flags → a recommendation, under local policy."""

"""Ingest: MQTT subscriber → open envelope (verify signature) → validate → store → alarms."""

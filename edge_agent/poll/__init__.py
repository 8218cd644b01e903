"""Polling: one scheduler per bus, Modbus clients, decoding through the firmware profiles."""

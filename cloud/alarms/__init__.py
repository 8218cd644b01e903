"""Alarm rules evaluated on newly stored readings, and the raise/clear lifecycle."""

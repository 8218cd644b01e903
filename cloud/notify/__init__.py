"""Notifications of alarm events: routed to contacts by region, severity and contact level, queued
in the store's outbox with the event, delivered at least once by webhook or e-mail with retries."""

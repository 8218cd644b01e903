"""Helpers shared by test modules (no test module imports another one).

Plain functions and classes, grouped by subject (``api``, ``browser``, ``forward``, ``quality``,
``rtu``, ...); ``checks`` (need(), the leftover check) and ``servers`` (Mosquitto, PostgreSQL) are
also pytest plugins, registered for every tier by tests/conftest.py.
"""

"""Errors an operator can act on: the command line prints their message, without a traceback."""


class OperatorError(Exception):
    """Something to fix outside the code (a file, a database, a version); the message says what."""

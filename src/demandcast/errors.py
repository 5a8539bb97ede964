"""Errors meant for a person: the message says what is wrong and what to do."""


class UserError(Exception):
    """A problem with the user's input or configuration, reported without a traceback."""

    exit_code = 2

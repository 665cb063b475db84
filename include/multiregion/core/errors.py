"""Error types shared by the core and the adapters."""


class PermanentError(Exception):
    """A failure that retrying cannot fix; the task fails at once, with this message."""


class BadInputError(PermanentError, ValueError):
    """Input a user can fix (unknown region/dataset, malformed param)."""

"""Error types shared by the core and the adapters."""


class BadInputError(ValueError):
    """Input a user can fix (unknown region/model, malformed param). Retrying cannot help."""

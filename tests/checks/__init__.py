"""Tests of the checks, one module per area."""


def ids(messages) -> list[str]:
    """The IDs of ``messages``, in order."""
    return [message.id for message in messages]

"""Errors whose messages tell the user what to do about them."""


class AssistantError(Exception):
    """Base class: the message is meant to be shown to a user as it is."""


class UnreadableFileError(AssistantError):
    """A file could not be turned into text (wrong type, corrupt, encrypted, empty, ...)."""


class IndexMismatchError(AssistantError):
    """The index on disk was built with other settings than the current ones."""


class IndexBusyError(AssistantError):
    """Another process is writing the index."""


class NotFoundError(AssistantError):
    """A document or index that was asked for does not exist."""


class SettingsError(AssistantError):
    """An ASSISTANT_ environment variable has a value the assistant cannot use."""

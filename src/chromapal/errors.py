"""Errors a user can fix; each is also a ``ValueError`` so generic handlers catch it."""


class PaletteError(Exception):
    """Base class of every problem with an input or option that the user can fix."""


class UnreadableImageError(PaletteError, ValueError):
    """The input is missing, not an image, truncated, corrupt or unsafe to decode."""


class ImageTooLargeError(UnreadableImageError):
    """The image has more pixels than the configured limit (a decompression bomb guard)."""


class EmptyImageError(PaletteError, ValueError):
    """No pixel is left to cluster, e.g. the image is fully transparent."""


class SourceError(UnreadableImageError):
    """A URL could not be fetched: unreachable, timed out, too large or not an image."""


class InvalidColorError(PaletteError, ValueError):
    """A colour given by the user could not be parsed."""


class ImageTimeoutError(PaletteError, ValueError):
    """Fetching, decoding and clustering one image took longer than its deadline."""

"""studio-lite's script-side helpers, importable as Studio's ``from studio import fs_tracker``."""

from . import fs_tracker

__all__ = ['fs_tracker']
__version__ = '0.1.0'

"""Errors a user can act on: the command prints them without a traceback."""

from orchestration.landing import LandingFileError
from orchestration.pipeline import DbtCommandFailed, RefreshAlreadyRunning

USER_ERRORS: tuple[type[BaseException], ...] = (
    LandingFileError,
    DbtCommandFailed,
    RefreshAlreadyRunning,
    ValueError,
    FileNotFoundError,
)

"""Errors a user can act on: the command prints them without a traceback."""

from orchestration.landing import LandingFileError
from orchestration.pipeline import DbtCommandFailed, RefreshAlreadyRunning
from orchestration.quality.report import QualityGateFailed
from orchestration.refresh import RefreshFailed

USER_ERRORS: tuple[type[BaseException], ...] = (
    LandingFileError,
    DbtCommandFailed,
    RefreshAlreadyRunning,
    RefreshFailed,
    QualityGateFailed,
    ValueError,
    FileNotFoundError,
)

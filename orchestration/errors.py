"""Errors a user can act on: the command prints them without a traceback."""

from orchestration.backtest import CannotMeasure
from orchestration.landing import LandingFileError, LandingFolderMissing
from orchestration.pipeline import DbtCommandFailed, RefreshAlreadyRunning
from orchestration.privacy import ErasureError
from orchestration.quality.report import QualityGateFailed
from orchestration.refresh import RefreshFailed
from orchestration.serving import PublishRefused

USER_ERRORS: tuple[type[BaseException], ...] = (
    CannotMeasure,
    LandingFileError,
    LandingFolderMissing,
    PublishRefused,
    ErasureError,
    DbtCommandFailed,
    RefreshAlreadyRunning,
    RefreshFailed,
    QualityGateFailed,
    ValueError,
    FileNotFoundError,
)

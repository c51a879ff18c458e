"""The study: all six steps declared in one value (or TOML file), run with :meth:`Study.run`."""

from .config import Study, StudyError, load_study
from .result import SCHEMA_VERSION, StudyResult

__all__ = ["Study", "StudyResult", "StudyError", "load_study",
           "SCHEMA_VERSION"]

"""alignment: which contact-center KPIs really move customer experience.

The six steps of the method map onto the package:

1-2. :mod:`alignment.catalog` -- choose the CX metric and the operational KPIs;
3.   :mod:`alignment.data` and :mod:`alignment.panel` -- read contacts, surveys and
     other sources and build a pooled KPI panel (DuckDB, or Spark: :mod:`alignment.engine`);
4.   :mod:`alignment.correlation` -- lag-aware correlations, honest under autocorrelation;
5.   :mod:`alignment.drivers` -- effect sizes (regressions, tipping points) and exact
     relative importance with bootstrap intervals;
6.   :mod:`alignment.validation` -- does each driver hold out of time, across windows and
     segments, against placebos and trends, and when someone acts on it?
     :mod:`alignment.contact` sets each survey beside its own contact (the contact-level model),
     the primary evidence wherever a contact measure speaks for a KPI.

:class:`alignment.Study` runs all six steps from a value or a TOML file.

:mod:`alignment.simulate` writes worlds with a planted truth for testing.
"""

from ._lazy import lazy

from . import catalog
from .catalog import CompositeScore, KpiOptions, SurveyMetric
from .data import ExtraSource, Intervals, Source
from .engine import DuckDBEngine, SparkEngine
from .exceptions import (AlignmentDeprecationWarning, AlignmentError, AlignmentWarning, AutocorrelationWarning,
                         CollinearityWarning,
                         ConstantPredictorWarning, EngineError, FormatError, HeteroskedasticityWarning,
                         InfluenceWarning,
                         InputError, LowResponsesWarning, MissingDataWarning, OptionError, OutputError,
                         SmallSampleWarning, SpanWarning, UnknownCustomersWarning, UnmatchedSurveysWarning)
from .exceptions import AgentsInferredWarning
from .panel import NonAdditiveMetricWarning, Panel, build_panel

__version__ = "0.1.0"

# The statistics steps pull in scipy and statsmodels (about a second); they load on first use
# so that the command line and the panel builder start fast.
_LAZY = {
    "correlate": "correlation", "CorrelationResult": "correlation",
    "regress": "drivers", "RegressionResult": "drivers", "relative_importance": "drivers",
    "ImportanceResult": "drivers", "tipping_point": "drivers", "TippingPoint": "drivers",
    "segment_effects": "drivers", "SegmentEffects": "drivers",
    "Study": "study", "StudyResult": "study", "load_study": "study", "StudyError": "study",
    "validate": "validation", "ValidationResult": "validation",
    "contact_model": "contact", "ContactModelResult": "contact",
    "queueing": "staffing", "QueueingFit": "staffing", "queue_inputs": "staffing", "QueueInputs": "staffing",
    "erlang_a": "staffing", "erlang_c": "staffing", "required_agents": "staffing", "QueueKPIs": "staffing",
    "StaffingSource": "staffing",
    "business_impact": "impact", "BusinessImpactResult": "impact",
}


__getattr__, __dir__ = lazy(__name__, _LAZY, globals())

__all__ = [
    "catalog", "build_panel", "Panel", "correlate", "CorrelationResult",
    "regress", "RegressionResult", "relative_importance", "ImportanceResult", "tipping_point",
    "TippingPoint", "segment_effects", "SegmentEffects", "Study", "StudyResult", "load_study", "StudyError",
    "validate", "ValidationResult",
    "Source", "ExtraSource", "DuckDBEngine", "SparkEngine", "KpiOptions", "SurveyMetric",
    "CompositeScore", "AlignmentError", "InputError", "OptionError", "EngineError", "AlignmentWarning",
    "UnmatchedSurveysWarning", "NonAdditiveMetricWarning", "LowResponsesWarning", "SmallSampleWarning",
    "CollinearityWarning", "AutocorrelationWarning", "ConstantPredictorWarning", "MissingDataWarning",
    "InfluenceWarning", "HeteroskedasticityWarning", "AlignmentDeprecationWarning", "OutputError", "SpanWarning",
    "queueing", "QueueingFit", "queue_inputs", "QueueInputs", "erlang_a", "erlang_c", "required_agents", "QueueKPIs",
    "StaffingSource", "AgentsInferredWarning",
    "business_impact", "BusinessImpactResult", "UnknownCustomersWarning",
    "Intervals", "FormatError",
]

"""Business impact: what a CX point is worth in customers kept and in value.

:func:`read_customers` reads the customers source, :func:`link_surveys` follows each survey of the
survey-level frame to its customer, :func:`cx_path` fits the contact-level model's path from the
contact measures to CX (the mediation's first equation), :func:`estimate_impact` fits the churn models;
:func:`business_impact` does it all from a study, a panel or a frame.
"""

from .._lazy import lazy

from .cqis import CQIS_BANDS, cqis_band, cqis_frame
from .customers import Customers, CustomerSpec, EventSpec, read_customers, read_events

# The link and the models pull in scipy and statsmodels; a study file naming [data.customers] is
# checked without them (tests/test_hardening_study.py), so they load on first use.
_LAZY = {"business_impact": "api", "estimate_impact": "estimate", "Link": "link", "link_surveys": "link",
         "BusinessImpactResult": "result", "cx_path": "mediation", "CXPath": "mediation"}

__getattr__, __dir__ = lazy(__name__, _LAZY, globals())

__all__ = ["business_impact", "cqis_frame", "cqis_band", "CQIS_BANDS", "BusinessImpactResult", "Customers", "CustomerSpec", "EventSpec", "read_customers", "read_events", "estimate_impact", "cx_path", "CXPath", "Link",
           "link_surveys"]

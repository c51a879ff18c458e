"""Business impact: what a CX point is worth in customers kept and in value.

:func:`read_customers` reads the customers source, :func:`link_surveys` follows each survey of the
survey-level frame to its customer, :func:`estimate_impact` fits the churn models;
:func:`business_impact` does all three from a study, a panel or a frame.
"""

from .api import business_impact
from .cqis import CQIS_BANDS, cqis_band, cqis_frame
from .customers import Customers, CustomerSpec, EventSpec, read_customers, read_events
from .estimate import estimate_impact
from .link import Link, link_surveys
from .result import BusinessImpactResult

__all__ = ["business_impact", "cqis_frame", "cqis_band", "CQIS_BANDS", "BusinessImpactResult", "Customers", "CustomerSpec", "EventSpec", "read_customers", "read_events", "estimate_impact", "Link",
           "link_surveys"]

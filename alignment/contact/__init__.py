"""The contact-level driver model: each survey answers for its own contact.

:func:`fit_contact_model` is the pure computation on a survey-level frame;
:func:`alignment.contact_model` builds that frame from a study or from sources first.
"""

from .api import contact_model
from .model import (KPI_OF, MEASURES, Coding, ContactModelResult, ContactSlopes, WaitHinge, coding, contact_slopes,
                    fit_contact_model)

__all__ = ["contact_model", "KPI_OF", "MEASURES", "Coding", "ContactModelResult", "ContactSlopes", "WaitHinge",
           "coding", "contact_slopes", "fit_contact_model"]

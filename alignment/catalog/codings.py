"""How a CX metric's score is coded as the contact-level model's outcome (the names only).

Kept apart from :mod:`alignment.contact.model` so that the study loader can check
``[study] contact_coding`` without importing the model's numerical stack.
"""

#: ``auto``: top box for a metric with one, NPS coding for NPS, the score itself otherwise.
CODINGS = ("auto", "top_box", "mean", "ordinal", "nps", "promoters", "detractors")

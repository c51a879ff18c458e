"""Shared test fixtures: a small study template over a simulated world."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # lets test modules import STUDY from here

STUDY = """
[study]
name = "small world"
outcome = "{outcome}"
kpis = ["asa", "fcr", "aht", "email_backlog", "marketing_spend"]
grain = "week"
by = ["queue"]
timezone = "America/New_York"
max_lag = 1
seed = 5
n_boot = 60

[data.contacts]
path = "contacts.csv"

[data.surveys]
path = "surveys.csv"

[[data.extra]]
path = "backlog.csv"
by = ["queue"]

[[data.extra]]
path = "marketing.csv"
aggregate = "sum"
"""

"""Queueing and staffing: queue inputs from the contacts, Erlang C and Erlang A, and their fit.

- :mod:`alignment.staffing.erlang`: Erlang C (M/M/N) and Erlang A (M/M/N+M), numerically
  stable at any N, and the staffing that reaches a target;
- :mod:`alignment.staffing.inputs`: offered, arrival rate, handle time, patience and agents per
  interval x segment, in SQL through the engine;
- :mod:`alignment.staffing.fit`: Erlang A per interval against the observed KPIs (:func:`queueing`).
"""

from .._lazy import lazy

from .erlang import QueueKPIs, answered_wait_beyond, answered_wait_mass, erlang_a, erlang_c, required_agents

_LAZY = {"queue_inputs": "inputs", "QueueInputs": "inputs", "StaffingSource": "inputs",
         "queueing": "fit", "QueueingFit": "fit",
         "whatif": "whatif", "WhatIf": "whatif"}

__getattr__, __dir__ = lazy(__name__, _LAZY, globals())

__all__ = ["QueueKPIs", "erlang_a", "erlang_c", "required_agents", "queue_inputs", "QueueInputs", "StaffingSource",
           "queueing", "QueueingFit", "answered_wait_beyond", "answered_wait_mass", "whatif", "WhatIf"]

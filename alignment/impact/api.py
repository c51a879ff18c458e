"""``business_impact``: what a CX point is worth, from a study, a panel or a survey-level frame."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..exceptions import OptionError
from .customers import read_customers
from .estimate import estimate_impact
from .link import link_surveys
from .result import BusinessImpactResult


def business_impact(data, outcome: str | None = None, *, customers=None, value: str | None = None,
                    window_days: int | None = None, as_of=None, by: Sequence[str] | None = None,
                    timezone: str | None = None, n_boot: int = 999, seed: int | None = None,
                    alpha: float = 0.05, customers_per_year: float | None = None,
                    mediators: Sequence[str] | None = None, cox: bool = True, engine=None,
                    panel=None, event: str | None = None, events=None,
                    contact_controls: Sequence[str] | None = None) -> BusinessImpactResult:
    """Link each survey to what its customer did next: the worth of a CX point.

    Parameters
    ----------
    data : Study, str or Path, Panel or pandas.DataFrame
        A :class:`~alignment.Study` (or its ``.toml`` file) with ``[data.customers]``; a
        :class:`~alignment.Panel` built with ``contact_frame=True``; or a survey-level frame (as
        ``Panel.contact_frame``, with ``customer_id``). The panel's survey-level frame is reused,
        not rebuilt.
    outcome : str, optional
        The CX score column; default the study's outcome, else ``"csat"``.
    customers : str, Path, pandas.DataFrame or Source, optional
        One row per customer: ``customer_id`` and ``churned_at`` (blank while still a customer);
        default the study's ``[data.customers]``.
    value : str, optional
        A column of ``customers``: value per customer per year (``"annual_revenue"``).
    window_days : int, default 90
        Did the customer leave within this many days after the contact?
    as_of : date, optional
        Where the data end (the customers' extract); default the end of the panel's last day.
    by, timezone
        Segments and timezone, when ``data`` is a frame (default ``["queue"]``).
    n_boot, seed, alpha
        Customer-bootstrap replicates and their seed (default the study's seed, else 0).
    customers_per_year : float, optional
        How many customers a CX point reaches in a year (default: those of the surveyed contacts).
    mediators : sequence of str, optional
        Contact measures to split into the part through CX and the rest (default all in the frame).
        Their path to CX is the contact-level model's, fitted on the same frame.
    contact_controls : sequence of str, optional
        The contact-level model's controls in that path (default the study's ``contact_controls``).
    cox : bool
        Also fit the Cox model (needs lifelines).
    event, events : optional
        Link to a customer event instead of leaving: ``event`` names it (``"repurchase"``) and
        ``events`` holds it, an :class:`~alignment.impact.customers.EventSpec` (or a list of them;
        default the study's ``[[data.customer_events]]``) or a DataFrame of ``customer_id, time``.

    Returns
    -------
    BusinessImpactResult

    Examples
    --------
    >>> import tempfile
    >>> from alignment import build_panel
    >>> from alignment.simulate import simulate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = simulate(tmp, seed=2, days=182, churn="cx", wait_effect="contact")
    ...     panel = build_panel(f"{tmp}/contacts.csv", surveys=f"{tmp}/surveys.csv", by=["queue"],
    ...                         timezone="America/New_York", contact_frame=True)
    ...     res = business_impact(panel, "csat", customers=f"{tmp}/customers.csv", value="annual_revenue",
    ...                           n_boot=199, cox=False)
    >>> res.cx_effect["estimate"] < 0
    True
    """
    from ..panel import Panel
    from ..study import Study, load_study
    from ..study.config import CONTACT_OUTCOMES
    study = None
    if isinstance(data, (str, Path)) and str(data).endswith(".toml"):
        data = load_study(data)
    if isinstance(data, Study):
        study = data
        if study.customers is None:
            raise OptionError("This study declares no customers: add [data.customers] (path, and churned_at, "
                              "value) to link CX to what customers do next.")
        if panel is None:
            from ..study.run import build_study_panel
            panel = build_study_panel(replace(study, contact_model=True))
        outcome = outcome or study.outcome
        by = list(study.by) if by is None else by
        timezone = study.timezone
        seed = study.seed if seed is None else seed
        customers = study.customers.source if customers is None else customers
        spec = study.customers
        value = value or spec.value
        window_days = window_days or spec.window_days
        as_of = as_of or spec.as_of
        event = event or (spec.outcome if spec.outcome != "churn" else None)
        events = study.customer_events if events is None else events
        contact_controls = study.contact_controls if contact_controls is None else contact_controls
        data = panel
    if isinstance(data, Panel):
        if data.contact_frame is None:
            raise OptionError("This panel has no survey-level frame: build it with build_panel(..., "
                              "contact_frame=True).")
        frame, by = data.contact_frame, list(data.by) if by is None else by
        timezone = timezone or data.timezone
        end = pd.Timestamp(data.end) + pd.Timedelta(days=1)
        if (outcome or "csat") in CONTACT_OUTCOMES and outcome not in frame:
            if study is None:
                raise OptionError(f"{outcome} is measured on the contacts, not by a survey: link it from a study, "
                                  f"or give business_impact the frame of alignment.impact.cqis_frame(contacts).")
            # the CQIS is measured on the quality-scored contacts, which the survey-level frame lacks
            frame = _quality_frame(study, data, outcome)
    elif isinstance(data, pd.DataFrame):
        frame, end = data, None
    else:
        raise OptionError(f"business_impact needs a Study, a study file, a Panel with a survey-level frame or a "
                          f"survey-level DataFrame. Got {type(data).__name__} instead.")
    if customers is None:
        raise OptionError("business_impact needs the customers: customers=Source(...) or a study with "
                          "[data.customers].")
    cust = read_customers(customers, value=value, timezone=timezone, engine=engine)
    if as_of is not None:
        end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    outcome = outcome or "csat"
    window_days = 90 if window_days is None else window_days
    event_table = None
    if event is not None and event != "churn":
        from .customers import EventSpec, read_events
        if isinstance(events, pd.DataFrame):
            event_table = events
        else:
            specs = [events] if isinstance(events, EventSpec) else list(events or ())
            chosen = [e for e in specs if e.event == event]
            if not chosen:
                raise OptionError(f"No customer events named {event!r} are declared (declared: "
                                  f"{', '.join(e.event for e in specs) or 'none'}).")
            event_table = pd.concat([read_events(e, timezone=timezone, engine=engine) for e in chosen],
                                    ignore_index=True)
    link = link_surveys(frame, cust.table, outcome=outcome, window_days=window_days,
                        by=["queue"] if by is None else by, end=end, label=cust.label, events=event_table)
    from ..contact.model import coding
    metric = {m.name: m for m in study.survey_metrics}.get(outcome) if study is not None else None
    nps = coding(outcome, metric).kind == "nps" if outcome in ("nps",) or metric is not None else False
    values = cust.table.set_index("customer_id")["value"] if value else None
    n_customers_file = cust.n
    path, why = _cx_path(frame, outcome, study, by=["queue"] if by is None else by, mediators=mediators,
                         contact_controls=contact_controls, metric=metric)
    if outcome in CONTACT_OUTCOMES and mediators:
        why = "no mediation: the contact-level model explains a survey score, and the CQIS is none"
    res = estimate_impact(link, cx=outcome, outcome=event or "churn", values=values, value_name=value,
                          customers_per_year=customers_per_year, mediators=mediators, nps=nps, cox=cox,
                          n_boot=n_boot, seed=0 if seed is None else seed, alpha=alpha, cx_path=path)
    if why:
        res = replace(res, notes=res.notes + (why,))
    linked = link.table["customer_id"].nunique()
    if n_customers_file > linked:
        res = replace(res, notes=res.notes + (f"{n_customers_file - linked:,} of {n_customers_file:,} customers in "
                                              f"{cust.label} have no surveyed contact",))
    return res


def _cx_path(frame, outcome, study, *, by, mediators, contact_controls, metric):
    """The contact-level model's path from the contact measures to CX on the link's frame (the
    mediation's first equation), or None and why not."""
    from ..contact.model import KPI_OF, MEASURES
    from .mediation import cx_path
    measures = [m for m in MEASURES if m in frame.columns and m != "answered_within_t"
                and (study is None or KPI_OF[m] in study.kpis)]   # the variables of the study's contact model
    wanted = measures if mediators is None else [m for m in mediators if m in measures]
    if not wanted:
        return None, None
    try:
        return cx_path(frame, outcome, by=by, variables=measures, contact_controls=tuple(contact_controls or ()),
                       metric=metric), None
    except OptionError as error:
        return None, f"no mediation: the contact-level model of {outcome} was not fitted ({error})"


def _quality_frame(study, panel, name: str) -> pd.DataFrame:
    """The link's observations for a CQIS outcome: each quality-scored contact of a known customer in
    the study's window, with the customer's CQIS so far (:func:`alignment.impact.cqis_frame`), from
    the study's contacts as the engine reads them (renames and formats applied)."""
    from ..data.read import register
    from ..engine import DuckDBEngine
    from ..engine.sql import quote
    from ..exceptions import InputError
    from .cqis import cqis_frame
    session = (study.engine or DuckDBEngine()).connect()
    try:
        raw = register(session, study.contacts, "contacts_quality", kind="contacts")
        cols = [c for c in ("contact_id", "customer_id", "arrived_at", "quality_score", *study.by) if raw.has(c)]
        contacts = session.frame(f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(raw.view)}")
    except session.errors as error:
        raise InputError(f"the data engine refused the input: {session.message(error)}",
                         source=study.contacts.label) from None
    finally:
        session.close()
    frame = cqis_frame(contacts, timezone=study.timezone, by=study.by, grain=study.grain, name=name)
    day = frame["contact_ts"].dt.normalize()
    return frame[(day >= pd.Timestamp(panel.start)) & (day <= pd.Timestamp(panel.end))].reset_index(drop=True)

"""``contact_model``: the contact-level model from a study, a panel, sources or a survey-level frame."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..exceptions import OptionError
from .model import ContactModelResult, fit_contact_model


def contact_model(data, outcome: str | None = None, *, surveys=None, by: Sequence[str] | None = None,
                  grain: str = "week", timezone: str | None = None, start=None, end=None,
                  contact_controls: Sequence[str] | None = None, coding: str = "auto", threshold: bool = True,
                  logit: bool = True, n_boot: int = 199, seed: int | None = None, alpha: float = 0.05,
                  spline_df: int = 0, engine=None) -> ContactModelResult:
    """Fit the contact-level driver model: each survey against the contact it rates.

    Parameters
    ----------
    data : Study, str or Path, Panel, pandas.DataFrame, or a contacts source
        A :class:`~alignment.Study` or a study file (``.toml``): its data, outcome, segments,
        contact controls and seed; a :class:`~alignment.Panel` built with ``contact_frame=True``;
        a survey-level frame (as ``Panel.contact_frame``); or, with ``surveys`` given, the
        contacts (a path, DataFrame or :class:`~alignment.Source`), joined to the surveys by the
        engine.
    outcome : str, optional
        The CX score column; default the study's outcome, else ``"csat"``.
    surveys : optional
        The surveys, when ``data`` is the contacts.
    by, grain, timezone, start, end, engine
        As for :func:`alignment.build_panel` when the frame is built here (default ``by``: the
        study's, else the panel's, else ``["queue"]``).
    contact_controls : sequence of str, optional
        Contact columns absorbed as controls (reason, topic, channel, agent_id ...); default the
        study's ``contact_controls``.
    coding, threshold, logit, n_boot, seed, alpha, spline_df
        As for :func:`alignment.contact.fit_contact_model` (``coding`` is its ``coding_kind``);
        default seed the study's, else 0.

    Returns
    -------
    ContactModelResult

    Examples
    --------
    >>> from alignment import contact_model
    >>> res = contact_model("data/demo/study.toml", n_boot=49)
    >>> list(res.table.columns[:10])
    ['kpi', 'variable', 'effect', 'ci_low', 'ci_high', 'p_value', 'threshold', 'threshold_ci_low', 'threshold_ci_high', 'n_surveys']
    """
    from ..panel import Panel, build_panel
    from ..study import Study, load_study
    if isinstance(data, (str, Path)) and str(data).endswith(".toml"):
        data = load_study(data)
    metric = None
    if isinstance(data, Study):
        from ..study.run import build_study_panel
        study = replace(data, contact_model=True)
        if contact_controls is not None:
            study = replace(study, contact_controls=tuple(contact_controls))
        panel = build_study_panel(study)
        outcome = outcome or study.outcome
        by = list(study.by) if by is None else by
        contact_controls = study.contact_controls
        seed = study.seed if seed is None else seed
        metric = {m.name: m for m in study.survey_metrics}.get(outcome)
        frame = panel.contact_frame
    elif isinstance(data, Panel):
        if data.contact_frame is None:
            raise OptionError("This panel has no survey-level frame: build it with build_panel(..., "
                              "contact_frame=True).")
        frame, by = data.contact_frame, list(data.by) if by is None else by
    elif surveys is not None:
        panel = build_panel(data, surveys=surveys, grain=grain, by=by or ["queue"], timezone=timezone,
                            start=start, end=end, contact_frame=True, contact_controls=contact_controls or (),
                            engine=engine)
        frame, by = panel.contact_frame, list(panel.by)
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise OptionError(f"contact_model needs a Study, a study file, a Panel with a survey-level frame, a "
                          f"survey-level DataFrame, or contacts with surveys=. Got {type(data).__name__} instead.")
    return fit_contact_model(frame, outcome or "csat", by=["queue"] if by is None else by,
                             contact_controls=tuple(contact_controls or ()), coding_kind=coding, metric=metric,
                             threshold=threshold, logit=logit, n_boot=n_boot, seed=0 if seed is None else seed,
                             alpha=alpha, spline_df=spline_df)

"""The ``alignment`` command line: thin wrappers around the public functions.

Exit codes: 0 success; 2 a user mistake (one line on stderr, no traceback);
1 an internal error (set ALIGNMENT_DEBUG=1 to see the traceback); 141 (128 + SIGPIPE, as a shell
reports it) when the reader of stdout went away (``alignment check ... | head``), quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings

from . import catalog
from .exceptions import AlignmentError, AlignmentWarning, OutputError, one_line

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_PIPE = 0, 1, 2, 141


class UsageError(AlignmentError):
    """A command-line argument is wrong."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other user mistake
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _split(values) -> list[str]:
    out = []
    for v in values or ():
        out += [p.strip() for p in v.split(",") if p.strip()]
    return out


def _path_options(flag: str, spec: str, allowed: tuple[str, ...], example: str) -> tuple[str, dict]:
    """``PATH[,key=value]...`` of ``--flag``: the path and its options (``by`` split on ``+``)."""
    path, *opts = spec.split(",")
    kwargs = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        key = key.strip()
        if not sep or key not in allowed:
            raise UsageError(f"{flag} {spec!r}: options are {', '.join(a + '=' for a in allowed)} "
                             f"(e.g. {example}). Got {opt!r}.")
        kwargs[key] = [b for b in value.split("+") if b] if key == "by" else value.strip()
    return path.strip(), kwargs


def _extra(spec: str):
    """``PATH[,by=queue[+site]][,aggregate=mean][,time=date]`` -> ExtraSource."""
    from .data import ExtraSource
    path, kwargs = _path_options("--extra", spec, ("by", "aggregate", "time", "timezone"),
                                 "backlog.csv,by=queue,aggregate=mean")
    return ExtraSource(path, **kwargs)


def cmd_kpis(args) -> int:
    from .catalog import KpiOptions
    from .data import Source
    from .io import atomic_path
    from .panel import build_panel
    options = KpiOptions(service_level_threshold_s=args.sl_threshold, service_level_variant=args.sl_variant,
                         short_abandon_s=args.short_abandon, csat_variant=args.csat_variant)
    if (args.contacts is None) == (args.intervals is None):
        raise UsageError("alignment kpis: give a contacts file, or --intervals FILE for an interval report (see --help)")
    if args.intervals is not None:
        from .data import Intervals
        contacts = Intervals(args.intervals, format=args.format, timezone=args.contacts_timezone,
                             service_level_s=args.intervals_service_level, glob=args.glob)
    else:
        contacts = Source(args.contacts, format=args.format, timezone=args.contacts_timezone, glob=args.glob)
    surveys = (Source(args.surveys, format=args.survey_format, timezone=args.surveys_timezone, glob=args.glob)
               if args.surveys else None)
    extras = [_extra(e) for e in args.extra or ()]
    patterns = [a for a in (args.contacts, args.intervals, args.surveys) if a is not None]
    check_out_file(args.out, patterns + [str(e.data) for e in extras])
    if args.glob:
        _check_out_not_matched(args.out, patterns)
    from .progress import using
    with using(False if args.quiet else None):  # a bar while reading, on a terminal only
        panel = build_panel(contacts, surveys=surveys, extras=extras,
                            grain=args.grain, by=_split(args.by), timezone=args.timezone, start=args.start,
                            end=args.end, metrics=_split(args.metrics) or None, options=options,
                            min_responses=args.min_responses)
    try:
        with atomic_path(args.out) as tmp:
            panel.to_csv(tmp)
    except OSError as error:
        raise OutputError(f"--out {one_line(args.out)}: could not be written ({one_line(error.strerror or error)}); "
                          f"nothing was written") from None
    if not args.quiet:
        print(panel.summary())
        print(f"panel written to {args.out}")
    return EXIT_OK


def _staffing(spec: str | None):
    """``PATH[,time=COL][,by=queue[+site]][,agents=COL][,timezone=TZ]`` -> StaffingSource."""
    if spec is None:
        return None
    from .staffing import StaffingSource
    path, kwargs = _path_options("--staffing", spec, ("time", "by", "agents", "timezone"),
                                 "staffing.csv,time=start,by=queue,agents=n_agents")
    return StaffingSource(path, **kwargs)


def cmd_queueing(args) -> int:
    from .data import Source
    from .staffing import queueing
    contacts = Source(args.contacts, format=args.format, timezone=args.contacts_timezone)
    staffing = _staffing(args.staffing)
    check_out_file(args.out, [args.contacts, staffing.data if staffing is not None else None])
    fit = queueing(contacts, interval=args.interval, by=_split(args.by), timezone=args.timezone, start=args.start,
                   end=args.end, staffing=staffing, agents=args.agents,
                   gap_s=args.gap, threshold_s=args.sl_threshold, patience=args.patience)
    try:
        fit.to_csv(args.out)
    except OSError as error:
        raise OutputError(f"--out {one_line(args.out)}: could not be written ({one_line(error.strerror or error)}); "
                          f"nothing was written") from None
    if not args.quiet:
        print(fit.summary())
        print(f"queueing fit written to {args.out}")
    return EXIT_OK


def cmd_catalog(args) -> int:
    if args.name:
        print(catalog.describe(args.name) if args.name in catalog.names() else catalog.get(args.name))
        return EXIT_OK
    t = catalog.table()
    labels = [n if not isinstance(v, str) else f"{n}[{v}]" for n, v in zip(t["name"], t["variant"])]
    width = max(map(len, labels)) + 2
    current = None
    for label, row in zip(labels, t.itertuples()):
        if row.kind != current:
            current = row.kind
            print({"cx": "CX (survey) metrics", "operational": "Operational KPIs"}.get(current, current))
        direction = "higher is better" if row.higher_is_better else "lower is better"
        print(f"  {label:<{width}} {row.unit:<19} {direction:<17} {row.formula}")
    print("\n`alignment catalog NAME` describes one metric.")
    return EXIT_OK


def cmd_simulate(args) -> int:
    from .simulate import simulate
    # simulate() owns the default incident rate; pass it on only when given.
    rate = {} if args.incident_rate is None else {"incident_rate": args.incident_rate}
    truth = simulate(args.out, seed=args.seed, days=args.days, queues=args.queues,
                     incidents=args.incidents, weekday_mood=args.weekday_mood,
                     reasons=args.reasons, wait_effect=args.wait_effect, contacts_per_day=args.contacts_per_day,
                     queue=args.queue or args.staffing is not None, staffing=args.staffing, **rate)
    if not args.quiet:
        drivers = ", ".join(f"{d['name']} ({d['role']})" for d in truth.get("drivers", []))
        print(f"simulated world written to {args.out} (seed {args.seed}); planted: {drivers}")
    return EXIT_OK


def _progress(quiet: bool):
    """Progress on stderr, only for a person watching a terminal: a line per step and bars on the
    long loops (:mod:`alignment.progress`); ``False`` (nothing at all) otherwise."""
    if quiet or not sys.stderr.isatty():
        return False
    return lambda message: print(f"alignment: {message}...", file=sys.stderr, flush=True)


def _same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name one file: the same resolved path (through ``./``, ``..`` and
    symbolic links) or, both existing, the same inode (hard links)."""
    from pathlib import Path
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_parents(out, target) -> None:
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"--out {one_line(out)}: {one_line(parent)} is a file, not a folder")


def check_out_dir(out, inputs) -> None:
    """Refuse an output folder whose replacement would destroy inputs, the working folder or files
    alignment did not write, or that cannot be written: before any work is done."""
    from pathlib import Path
    from .io import writable_problem
    from .study.result import not_an_output
    shown = one_line(out)
    target = Path(out).resolve()
    if target.exists() and not target.is_dir():
        raise OutputError(f"--out {shown}: is a file, not a folder")
    _check_parents(out, target)
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise OutputError(f"--out {shown}: is the current folder or holds it; choose a new folder")
    for item in inputs:
        path = Path(item).resolve()
        if _same_file(item, target) or target in path.parents:
            raise OutputError(f"--out {shown}: would replace {one_line(item)}, an input of the study; "
                              f"choose another folder")
    if target.is_dir():
        problem = not_an_output(target)
        if problem:
            raise OutputError(f"--out {shown}: {problem}; choose a new folder")
    problem = writable_problem(target)
    if problem:
        raise OutputError(f"--out {shown}: {problem}")


def _check_out_not_matched(out, patterns) -> None:
    """Refuse an output file that an input pattern matches: the next run would read the panel as input."""
    import fnmatch
    import os
    for pattern in patterns:
        if fnmatch.fnmatch(os.path.abspath(out), os.path.abspath(pattern)):
            raise OutputError(f"--out {one_line(out)}: matches the input pattern {one_line(pattern)}; the next run "
                              f"would read the panel as an input: write it elsewhere")


def check_out_file(out, inputs) -> None:
    """Refuse an output file that is an input (or lies in an input folder), is a folder, or cannot be
    written: before any work is done."""
    from pathlib import Path
    from .io import writable_problem
    shown = one_line(out)
    target = Path(out)
    if target.is_dir():
        raise OutputError(f"--out {shown}: is a folder; give the file to write, e.g. "
                          f"{one_line(target / 'panel.csv')}")
    _check_parents(out, target.resolve())
    for item in inputs:
        if item is None:
            continue
        if _same_file(item, target):
            raise OutputError(f"--out {shown}: is {one_line(item)}, an input; writing the panel there would "
                              f"destroy it: choose another file")
        if Path(item).resolve() in target.resolve().parents:
            raise OutputError(f"--out {shown}: lies in {one_line(item)}, an input folder; choose a file "
                              f"outside it")
    problem = writable_problem(target)
    if problem:
        raise OutputError(f"--out {shown}: {problem}")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return value


def write_outputs(result, out, formats=("html",)) -> None:
    """results.json, panel.csv, the report and figures/ into ``out``, whole or not at all
    (:meth:`StudyResult.write`); a file-system failure (a full disk) is one line."""
    try:
        result.write(out, formats=formats)
    except OSError as error:
        raise OutputError(f"--out {one_line(out)}: could not be written ({one_line(error.strerror or error)}); "
                          f"nothing was written") from None


def _formats(report_format: str) -> tuple[str, ...]:
    """The report files --report-format asks for (HTML always: the PDF is printed from it)."""
    if report_format == "pdf":
        from .report.render import chromium
        chromium()  # before the study runs: a missing browser is one line, not a lost run
    return ("html",) if report_format == "html" else ("html", report_format)


def cmd_whatif(args) -> int:
    """Check the change and the segment on the contacts first, then run the study and the what-if."""
    from .staffing.whatif import check_segment, parse_agents, parse_days, parse_hours, study_inputs, whatif
    from .study import load_study
    parse_agents(args.agents), parse_hours(args.hours), parse_days(args.days)
    study = load_study(args.study)
    if args.out:
        check_out_file(args.out, [study.contacts.data if isinstance(study.contacts.data, (str, os.PathLike))
                                  else None])
    inputs = study_inputs(study, interval=args.interval)
    check_segment(inputs, args.segment)
    result = study.run(progress=False if args.quiet else None)
    w = whatif(result, agents=args.agents, segment=args.segment, hours=args.hours, days=args.days,
               inputs=inputs)
    if args.out:
        w.to_json(args.out)
    if not args.quiet:
        print(w.summary())
        if args.out:
            print(f"wrote {args.out}")
    return EXIT_OK


def cmd_run(args) -> int:
    from .study import load_study
    study = load_study(args.study)
    if args.seed is not None:
        study = study.with_seed(args.seed)
    check_out_dir(args.out, study.inputs())
    _formats(args.report_format)
    result = study.run(progress=_progress(args.quiet))
    write_outputs(result, args.out, formats=_formats(args.report_format))
    if not args.quiet:
        print(result.summary())
        print(f"results written to {args.out}/results.json")
        print(f"drivers for a spreadsheet: {args.out}/drivers.csv and drivers.xlsx")
        print(f"driver report: {args.out}/report.html")
        if args.report_format == "pdf":
            print(f"printed report: {args.out}/report.pdf")
    return EXIT_OK


def cmd_check(args) -> int:
    from .study import load_study
    from .study.config import build_study_panel  # steps 1-3 without the statistics stack
    study = load_study(args.study)
    panel = build_study_panel(study)
    print(f"{args.study}: OK")
    print(panel.summary())
    return EXIT_OK


def demo_study_path():
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "data" / "demo" / "study.toml"
    if not path.exists():
        raise UsageError(f"the bundled demo study is not here ({path}); run from a source checkout")
    return path


def cmd_demo(args) -> int:
    from .study import load_study
    study = load_study(demo_study_path())
    check_out_dir(args.out, study.inputs())
    _formats(args.report_format)
    result = study.run(progress=_progress(args.quiet))
    write_outputs(result, args.out, formats=_formats(args.report_format))
    if not args.quiet:
        print(f"{study.name}: every KPI's verdict as a driver of {study.outcome.upper()}")
        for line in result.verdict_lines():
            print(f"  {line}")
        print(f"drivers for a spreadsheet: {args.out}/drivers.csv and drivers.xlsx")
        print(f"driver report: {args.out}/report.html")
        if args.report_format == "pdf":
            print(f"printed report: {args.out}/report.pdf")
    return EXIT_OK


def _report_format(p) -> None:
    """``--report-format`` (``--format``, its former name, still works: ``kpis --format`` is the
    contacts' input format, so the report's got its own name)."""
    p.add_argument("--report-format", dest="report_format", choices=("html", "md", "pdf"), default="html",
                   help="md also writes report.md and figures/*.svg (Markdown, for e-mail and wikis); pdf "
                        "also writes report.pdf, printed by headless Chromium (which must be installed)")
    p.add_argument("--format", dest="report_format", choices=("html", "md", "pdf"), help=argparse.SUPPRESS)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="alignment", description="Which contact-center KPIs really move customer experience.")
    p.add_argument("--version", action="version", version=f"alignment {__import__('alignment').__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    k = sub.add_parser("kpis", help="build a KPI panel from contact records (no study file needed)",
                       description="Build a pooled KPI panel: one row per period x segment.")
    k.add_argument("contacts", nargs="?", help="contacts file (CSV or Parquet)")
    k.add_argument("--intervals", metavar="FILE", help="an interval report instead of contacts (--format "
                                                       "avaya-cms-hsplit, genesys-cloud-aggregates, "
                                                       "amazon-connect-historical, or the canonical columns)")
    k.add_argument("--intervals-service-level", type=float, metavar="S",
                   help="the threshold (s) at which the interval report counts calls answered within service level")
    k.add_argument("--surveys", help="survey responses file")
    k.add_argument("--glob", action="store_true",
                   help="the contacts, --intervals and --surveys paths are patterns (*, ?, [abc], ** for any "
                        "folders; quote them): every matching file is read, in name order, as one export")
    k.add_argument("--extra", action="append", metavar="PATH[,by=COL][,aggregate=RULE][,time=COL]",
                   help="extra source (repeatable); aggregate is mean, sum, last or max")
    k.add_argument("--grain", default="week", help="day, week or month (default week)")
    k.add_argument("--by", action="append", help="segment column(s), comma-separated")
    k.add_argument("--timezone", help="study timezone, e.g. America/New_York")
    k.add_argument("--start", help="first local date (inclusive), YYYY-MM-DD")
    k.add_argument("--end", help="last local date (inclusive), YYYY-MM-DD")
    k.add_argument("--metrics", action="append", help="catalog metrics to compute (default: all possible)")
    k.add_argument("--format", help="built-in contacts (or --intervals) format: technion-anonymous-bank, "
                                    "amazon-connect-ctr, genesys-cloud-conversations, nice-cxone-contacts, "
                                    "five9-call-log, salesforce-voicecall, zendesk-tickets")
    k.add_argument("--contacts-timezone", help="timezone of naive times in the contacts file (for five9-call-log "
                                               "and nice-cxone-contacts: the account's time zone)")
    k.add_argument("--survey-format", help="built-in surveys format: qualtrics-csv, surveymonkey-csv, "
                                           "medallia, zendesk-satisfaction")
    k.add_argument("--surveys-timezone", help="timezone of naive times in the surveys file")
    k.add_argument("--sl-threshold", type=float, default=20, help="service-level threshold T in seconds (20)")
    k.add_argument("--sl-variant", default="offered", help="service-level denominator variant (offered)")
    k.add_argument("--short-abandon", type=float, default=5, help="short-abandon threshold in seconds (5)")
    k.add_argument("--csat-variant", default="top2", help="top2 (share of 4-5) or mean")
    k.add_argument("--min-responses", type=int, default=30, help="flag rows with fewer surveys (30)")
    k.add_argument("--out", required=True, help="panel CSV to write")
    k.add_argument("--quiet", action="store_true", help="print nothing on success")
    k.set_defaults(func=cmd_kpis)

    q = sub.add_parser("queueing", help="fit Erlang A to every interval of contact records, beside what happened",
                       description="Queue inputs per interval x segment (offered, arrival rate, handle time, "
                                   "patience, agents) and Erlang A's abandon rate, ASA and service level beside "
                                   "the observed ones; writes one CSV row per interval x segment.")
    q.add_argument("contacts", help="contacts file (CSV or Parquet)")
    q.add_argument("--format", help="built-in contacts format, e.g. technion-anonymous-bank")
    q.add_argument("--contacts-timezone", help="timezone of naive times in the contacts file")
    q.add_argument("--staffing", metavar="PATH[,time=COL][,by=COL][,agents=COL]",
                   help="staffing file: a time column (time), segment columns and agents on duty (agents)")
    q.add_argument("--interval", type=int, default=60, help="15, 30 or 60 minutes (60)")
    q.add_argument("--by", action="append", help="segment column(s), comma-separated")
    q.add_argument("--timezone", help="study timezone, e.g. Asia/Jerusalem")
    q.add_argument("--start", help="first local date (inclusive), YYYY-MM-DD")
    q.add_argument("--end", help="last local date (inclusive), YYYY-MM-DD")
    q.add_argument("--agents", default="on_duty", help="inferred agents: on_duty (default) or distinct")
    q.add_argument("--gap", type=float, default=1800, help="idle seconds that still join an agent's services (1800)")
    q.add_argument("--patience", default="interval", help="interval (each interval's own, default) or pooled")
    q.add_argument("--sl-threshold", type=float, default=20, help="service-level threshold T in seconds (20)")
    q.add_argument("--out", required=True, help="CSV to write")
    q.add_argument("--quiet", action="store_true", help="print nothing on success")
    q.set_defaults(func=cmd_queueing)

    w = sub.add_parser("whatif", help="a staffing change through the queue to the KPIs, CX, churn, value and cost",
                       description="Run the study, then predict with Erlang A per interval what a change of "
                                   "agents on duty does to ASA, service level and abandon rate, and through the "
                                   "validated effects to CX, churn and value; writes whatif.json with --out.")
    w.add_argument("study", help="study file (TOML)")
    w.add_argument("--segment", help="segment to change (a value of the study's segment column); default each")
    w.add_argument("--agents", required=True, help="change of agents on duty, e.g. +2 or -1")
    w.add_argument("--hours", help="local hours START-END (end excluded), e.g. 10-14; default all")
    w.add_argument("--days", help="weekdays, e.g. mon-fri or sat,sun; default all")
    w.add_argument("--interval", type=int, default=60, help="15, 30 or 60 minutes (60)")
    w.add_argument("--out", help="whatif.json to write")
    w.add_argument("--quiet", action="store_true", help="print nothing on success")
    w.set_defaults(func=cmd_whatif)

    c = sub.add_parser("catalog", help="print the metric catalog, or one entry",
                       description="Print the catalog of CX metrics and operational KPIs.")
    c.add_argument("name", nargs="?", help="metric name, e.g. service_level")
    c.set_defaults(func=cmd_catalog)

    writes = ("DIR/results.json (schema 2), DIR/drivers.csv and DIR/drivers.xlsx (the drivers, one flat row "
              "each), DIR/panel.csv, DIR/report.html (the driver report), "
              "DIR/figures/importance.svg and, with --report-format md, DIR/report.md and every figure as "
              "DIR/figures/*.svg; with --report-format pdf, DIR/report.pdf (printed by headless Chromium)")
    r = sub.add_parser("run", help="run a study file: steps 1-6, results.json, panel.csv, report.html",
                       description=f"Run every step of a study and write {writes}. DIR appears whole or not "
                                   f"at all.")
    r.add_argument("study", help="study file (TOML)")
    r.add_argument("--out", required=True, help="output folder (replaced only on success)")
    r.add_argument("--seed", type=_seed, help="override the study's seed")
    _report_format(r)
    r.add_argument("--quiet", action="store_true", help="print nothing on success")
    r.set_defaults(func=cmd_run)

    ch = sub.add_parser("check", help="validate a study file and its data without running the statistics",
                        description="Load the study, read and check every data file, build the panel.")
    ch.add_argument("study", help="study file (TOML)")
    ch.set_defaults(func=cmd_check)

    d = sub.add_parser("demo", help="run the bundled demo study",
                       description=f"Run data/demo/study.toml and write {writes} (DIR: default out/demo).")
    d.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    _report_format(d)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("simulate", help="write a simulated contact-center world with a planted truth",
                       description="Write contacts, surveys, extra sources and truth.json to DIR.")
    s.add_argument("--out", required=True, help="folder to write")
    s.add_argument("--seed", type=int, required=True, help="random seed")
    s.add_argument("--days", type=int, default=364, help="days to simulate (364)")
    s.add_argument("--queues", type=int, default=4, help="number of queues (4)")
    s.add_argument("--no-incidents", dest="incidents", action="store_false",
                   help="no incident days (common shocks to volume and satisfaction)")
    s.add_argument("--incident-rate", type=float, default=None,
                   help="expected share of incident days (default 0.04, about 1 day in 25)")
    s.add_argument("--no-weekday-mood", dest="weekday_mood", action="store_false",
                   help="no weekday shift of satisfaction")
    s.add_argument("--no-reasons", dest="reasons", action="store_false",
                   help="no contact reasons (and no reason column)")
    s.add_argument("--wait-effect", choices=("period", "contact"), default="period",
                   help="where waiting acts: the queue-week's ASA (period, the default) or each customer's "
                        "own wait (contact)")
    s.add_argument("--contacts-per-day", type=float, default=60,
                   help="mean contacts offered per queue and day (60; a real queue wants several hundred)")
    s.add_argument("--queue", action="store_true",
                   help="a real queue (M/M/N+M per hour, FCFS): waits, abandons and handle times from agents "
                        "on duty per hour, whose plan is written to staffing.csv (training hours to training.csv)")
    s.add_argument("--staffing", metavar="PATH", default=None,
                   help="with --queue (implied): rerun the world with this staffing plan (time, queue, agents; "
                        "a world's staffing.csv, changed)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_simulate)
    return p


def main(argv=None) -> int:
    """Entry point of the ``alignment`` console script."""
    try:
        args = parser().parse_args(argv)
        with warnings.catch_warnings():
            if getattr(args, "quiet", False):
                warnings.simplefilter("ignore")  # --quiet: no library's warnings (matplotlib, pandas) either
            warnings.simplefilter("always", AlignmentWarning)
            warnings.showwarning = _show_warning
            code = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
            return code
    except BrokenPipeError:
        return _stdout_closed()
    except AlignmentError as error:
        print(f"alignment: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("alignment: interrupted", file=sys.stderr)
        return EXIT_INTERNAL
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    except Exception as error:  # noqa: BLE001 - the CLI's last line of defence
        if os.environ.get("ALIGNMENT_DEBUG"):
            traceback.print_exc()
        print(f"alignment: internal error: {type(error).__name__}: {one_line(error)} "
              f"(set ALIGNMENT_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"alignment: warning: {category.__name__}: {one_line(message)}", file=sys.stderr)


def _stdout_closed() -> int:
    """The reader of stdout went away (``alignment check ... | head``): end quietly.

    As the Python documentation advises (signal module, "Note on SIGPIPE"), stdout is pointed at
    devnull so that the interpreter's final flush does not fail a second time.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (embedded, captured)
        pass
    return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())

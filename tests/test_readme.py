"""Every Python snippet in README.md runs, in order, as a reader would paste them.

The snippets run in one namespace (a later one may use an earlier one's ``panel``) with a
temporary folder as the working directory, in which ``data/`` points at the repository's bundled
data, so that a snippet writing a file cannot touch the checkout. The study file of "Run it on your
own data" is checked by ``alignment check`` on a simulated world, and its commands parse.
"""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<code>.*?)^```", re.S | re.M)


def fenced(lang: str, text: str | None = None) -> list[tuple[int, str]]:
    """(line number, code) of every ``lang`` block of ``text`` (the README by default)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    return [(text.count("\n", 0, m.start()) + 2, m["code"]) for m in FENCE.finditer(text) if m["lang"] == lang]


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_fenced_blocks_are_found():
    sample = "a\n```python\nx = 1\n```\n\n```sh\nls\n```\n```python\ny = 2\n```\n"
    assert fenced("python", sample) == [(3, "x = 1\n"), (10, "y = 2\n")]
    assert len(fenced("python")) >= 5


@pytest.mark.slow
def test_every_python_snippet_runs_in_order(tmp_path, monkeypatch):
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for line, code in fenced("python"):
        try:
            exec(compile(code, f"README.md, line {line}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - any failure of a snippet is the finding
            pytest.fail(f"the README snippet at line {line} fails: {type(error).__name__}: {error}",
                        pytrace=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]   # the snippets write nothing


def test_the_own_data_study_file_passes_check_and_its_commands_parse(tmp_path, monkeypatch, capsys):
    from alignment.cli import main, parser
    from alignment.simulate import simulate
    text = section("Run it on your own data")
    (_, toml), = fenced("toml", text)
    (_, commands), = fenced("sh", text)
    simulate(tmp_path, seed=1, days=91, queues=3)       # the shape `alignment simulate` writes
    (tmp_path / "study.toml").write_text(toml, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "study.toml"]) == 0, capsys.readouterr().err
    assert "study.toml: OK" in capsys.readouterr().out
    for command in commands.splitlines():
        words = shlex.split(command, comments=True)
        assert words[0] == "alignment"
        parser().parse_args(words[1:])                  # raises on an unknown option


def test_a_study_without_surveys_points_to_the_readme_section(tmp_path):
    from alignment.study import StudyError, load_study
    (tmp_path / "contacts.csv").write_text("contact_id\n")
    (tmp_path / "study.toml").write_text('[study]\noutcome = "csat"\nkpis = ["asa"]\n\n'
                                         '[data.contacts]\npath = "contacts.csv"\n')
    with pytest.raises(StudyError, match="data.surveys") as error:
        load_study(tmp_path / "study.toml")
    title = re.search(r"README: '([^']+)'", str(error.value))[1]
    assert section(title).startswith(f"\n## {title}\n")      # the section it names exists


def test_the_anonymous_bank_contact_id_is_as_documented():
    import duckdb
    from alignment.data.formats import get_format
    documented = re.search(r"`contact_id` is the VRU line and the call id joined\s+by a hyphen, `([^`]+)`",
                           section("No surveys yet?"))[1]
    expression = get_format("technion-anonymous-bank").columns["contact_id"]
    data = ROOT / "data" / "anonymous_bank" / "anonymous_bank_feb1999.txt"
    first = duckdb.sql(f"SELECT {expression} FROM read_csv('{data}', delim = '\t', header = true, quote = '', "
                       f"escape = '', all_varchar = true) LIMIT 1").fetchall()[0][0]
    with open(data, encoding="ascii") as f:
        f.readline()
        line, call = f.readline().split("\t")[:2]          # the file's first call, read by hand
    assert documented == first == f"{line}-{call}" == "AA0101-34536"

"""The numbered notebooks run top to bottom on the bundled data, and are committed without outputs.

Each notebook is executed by a fresh ``python3`` kernel (ipykernel, from this interpreter's
environment) with ``notebooks/`` as the working directory, exactly as an analyst opens it.
"""

import json
import time
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
TIMEOUT_S = 300  # per cell; each notebook runs in well under a minute


def test_notebooks_exist_and_are_numbered():
    names = [path.name for path in NOTEBOOKS]
    assert names == ["01_quickstart.ipynb", "02_six_steps.ipynb", "03_why_validation.ipynb",
                     "04_real_call_center.ipynb", "05_cis_55_to_75.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    # Read as plain JSON so this check runs even without nbformat installed.
    book = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, cell in enumerate(book["cells"])
             if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; clear them "
                       f"(jupyter nbconvert --clear-output --inplace notebooks/{path.name})")
    assert "widgets" not in book.get("metadata", {}), f"{path.name}: notebook metadata holds widget state"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e '.[dev]')")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[dev]')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install -e '.[dev]')")

    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, kernel_name="python3", timeout=TIMEOUT_S,
                                     resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    started = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)
    elapsed = time.perf_counter() - started
    # Executing must not write outputs back: the test works on an in-memory copy.
    assert json.loads(path.read_text(encoding="utf-8"))["cells"][-1].get("outputs", []) == []
    assert elapsed < 120, f"{path.name} took {elapsed:.0f} s; notebooks should run in under a minute"

"""In a Jupyter kernel with ``%matplotlib inline``, alignment's figures leave inline plotting working,
and its progress bars find the notebook on their own.

A small notebook is generated here and run by a fresh ``python3`` kernel (nbclient), as
tests/test_notebooks.py runs the bundled ones. After ``alignment.plot`` has drawn through pyplot,
offscreen (as the report does) and into a file, the backend must still be the inline one and a
plain ``plt.plot`` must still come back as an image (a ``display_data`` output with a PNG).
"""

import pytest

SETUP = """\
%matplotlib inline
import matplotlib
print("BACKEND", matplotlib.get_backend())
"""

ALIGNMENT = """\
import numpy as np, pandas as pd
import alignment.progress
from alignment import plot, relative_importance
alignment.progress.DELAY_S = 0        # the loop is shorter than the usual half-second delay
rng = np.random.default_rng(0)
frame = pd.DataFrame({"period": np.repeat(pd.date_range("2025-01-06", periods=30, freq="W-MON"), 3),
                      "queue": ["a", "b", "c"] * 30, "x1": rng.normal(size=90), "x2": rng.normal(size=90)})
frame["y"] = 2 * frame["x1"] - frame["x2"] + rng.normal(size=90)
imp = relative_importance(frame, "y", ["x1", "x2"], by="queue", n_boot=200, block=3, seed=1)  # progress: auto
plot.importance(imp)                                    # a pyplot figure, shown inline
with plot.offscreen():                                  # the report's way
    svg = plot.to_svg(plot.importance(imp))
plot.save(plot.importance(imp), "importance.svg")       # drawn into a file and closed
print("SVG", svg.startswith("<svg"))
"""

AFTER = """\
import matplotlib
print("BACKEND", matplotlib.get_backend())
"""

PLAIN = """\
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9]);
"""


def _text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    return str(output.get("data", {}).get("text/plain", ""))


@pytest.mark.slow
def test_inline_plotting_still_works_after_alignment_plots(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e '.[dev]')")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[dev]')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install -e '.[dev]')")
    pytest.importorskip("matplotlib_inline", reason="matplotlib-inline is not installed (it comes with ipykernel)")

    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(code) for code in (SETUP, ALIGNMENT, AFTER, PLAIN)]
    client = nbclient.NotebookClient(book, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"the generated notebook failed:\n{error}", pytrace=False)
    setup, drawn, after, plain = ([_text(o) for o in cell.outputs] for cell in book.cells)

    before = next(line for line in "".join(setup).splitlines() if line.startswith("BACKEND"))
    assert "inline" in before, before
    assert before in "".join(after).splitlines(), f"the backend changed: {before} -> {after}"
    # the pyplot figure of plot.importance came back inline, and the report's path drew an SVG
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in book.cells[1].outputs)
    assert "SVG True" in "".join(drawn)
    # the progress bar found the notebook although the kernel's stderr is no terminal
    assert "importance: bootstrap" in "".join(drawn), drawn
    images = [o for o in book.cells[3].outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == 1, book.cells[3].outputs
    assert (tmp_path / "importance.svg").read_text().lstrip().startswith("<?xml")

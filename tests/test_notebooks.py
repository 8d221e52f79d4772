"""The Colab notebooks: stored without outputs, and run top to bottom in smoke mode.

Smoke mode (`KERAS_FCN_SMOKE=1`) swaps downloads for offline stand-ins and shrinks sizes; every
notebook then runs on a CPU in about a minute, through the same cells as a real run.
"""

import json
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = (
    "01_quickstart.ipynb",
    "02_finetune_oxford_pets.ipynb",
    "03_reproduce_voc.ipynb",
    "04_export_tf_serving.ipynb",
)
COLAB_URL = "https://colab.research.google.com/github/keras-fcn/keras-fcn/blob/main/notebooks/"
CELL_TIMEOUT_S = 300


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=nbformat.NO_CONVERT)


def test_notebook_folder_holds_exactly_the_listed_notebooks():
    assert sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_valid_nbformat_4(name):
    notebook = read(name)
    assert notebook.nbformat == 4
    nbformat.validate(notebook)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name):
    # Read the raw JSON, so that nothing nbformat fills in hides a stored output.
    cells = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))["cells"]
    code_cells = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code_cells
    with_outputs = [index for index, cell in enumerate(cells) if cell.get("outputs")]
    with_counts = [index for index, cell in enumerate(cells) if cell.get("execution_count")]
    assert with_outputs == [], f"{name}: cells {with_outputs} hold outputs"
    assert with_counts == [], f"{name}: cells {with_counts} hold execution counts"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_opens_with_title_and_its_own_colab_badge(name):
    first = read(name).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert f"({COLAB_URL}{name})" in first.source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_code_cell_installs_in_colab_and_reads_smoke_mode(name):
    setup = next(cell for cell in read(name).cells if cell.cell_type == "code").source
    assert 'if "google.colab" in sys.modules:' in setup
    assert "git+https://github.com/keras-fcn/keras-fcn" in setup
    assert 'SMOKE = os.environ.get("KERAS_FCN_SMOKE") == "1"' in setup
    assert 'make_strategy("auto")' in setup


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_smoke_mode(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_FCN_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    # Anything that tried to download would find an empty cache and no network.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tensorflow_datasets"))
    # The notebooks' tempfile.mkdtemp() directories (up to 1 GB of weights and runs) go under
    # tmp_path, which pytest removes, rather than into the system's temporary folder.
    kernel_tmp = tmp_path / "tmp"
    kernel_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    notebook = read(name)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(work_dir)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    assert any(kernel_tmp.iterdir())  # the kernel's temporary files went where they were sent

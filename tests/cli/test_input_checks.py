"""Bad values where the user types them (config keys, study options, CSV cells) are
:class:`EsnasInputError` s naming the key and what is valid, not a ValueError from deep inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from esnas.components import build
from esnas.metrics import Probe
from esnas.search.strategy import EngineSettings
from esnas.spaces import NB201Space
from esnas.spaces.esformer import ESFormerSpace
from esnas.utils.errors import EsnasInputError, as_number


def test_as_number_converts_config_strings_and_names_the_key_when_it_cannot() -> None:
    assert as_number("k", "12") == 12 and as_number("k", "1e6", float) == 1e6
    assert as_number("k", None, float, optional=True) is None
    for bad in ("abc", 2.5, True, 0):
        with pytest.raises(EsnasInputError, match=rf"^k={bad!r} is invalid; valid: an int >= 1$"):
            as_number("k", bad, int, 1)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Probe(batch_size="abc"), "probe.batch_size='abc' is invalid; valid: an int >= 1"),
        (lambda: Probe(seed=-1), "probe.seed=-1 is invalid; valid: an int >= 0"),
        (lambda: EngineSettings.split({"checkpoint_every": "x"}), "strategy.checkpoint_every"),
        (lambda: EngineSettings.split({"rescore": 5}), "strategy.rescore=5 is invalid"),
        (lambda: EngineSettings.split({"rescore": {"top": -1}}), "strategy.rescore.top=-1"),
        (lambda: NB201Space(max_macs="abc"), "space.max_macs='abc' is invalid; valid: a float"),
        (lambda: NB201Space(max_params=1e6, max_tries=0), "space.max_tries=0 is invalid"),
        (lambda: ESFormerSpace(resolution="big"), "space.resolution='big' is invalid"),
        (lambda: ESFormerSpace(resolution=16), "valid: an int >= 32"),
    ],
)
def test_bad_config_values_are_input_errors_naming_the_key(make, match: str) -> None:
    with pytest.raises(EsnasInputError, match=match.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_study_cell_counts_and_probe_are_checked() -> None:
    from esnas.studies.common import probe_config, sample_indices

    assert sample_indices("cells", 3, 10, 0) == sample_indices("cells", 5, 10, 0)[:3]
    with pytest.raises(EsnasInputError, match=r"study.cells=11 is invalid; valid: 0..10"):
        sample_indices("cells", 11, 10, 0)
    with pytest.raises(EsnasInputError, match=r"study.cells=-1 is invalid"):
        sample_indices("cells", -1, 10, 0)
    with pytest.raises(EsnasInputError, match=r"study.probe='fast' is invalid; valid: null or"):
        probe_config("fast")  # type: ignore[arg-type]


def test_build_names_unknown_models_and_options_it_would_drop() -> None:
    with pytest.raises(EsnasInputError, match="unknown model 'esformer_xxxl'; valid: a timm"):
        build("model", {"name": "esformer_xxxl"})
    with pytest.raises(
        EsnasInputError, match=r"fitness 'rank' has no option.s. weights; valid: none"
    ):
        build("fitness", {"name": "rank", "weights": [1]})
    with pytest.raises(EsnasInputError, match=r"study 'decoupling' has no option.s. cels; valid: "):
        build("study", {"name": "decoupling", "cels": 3})
    with pytest.raises(EsnasInputError, match=r"a metric node needs a name; got"):
        build("metric", {})


def test_a_non_numeric_score_csv_cell_names_file_and_column(tmp_path: Path) -> None:
    from esnas.correlation import _columns

    path = tmp_path / "scores.csv"
    path.write_text("arch,entropic\na,1.5\nb,oops\n")
    with pytest.raises(EsnasInputError, match=r"scores.csv: column 'entropic' holds 'oops'"):
        _columns(path)


def test_a_study_rows_bad_override_is_an_input_error(tmp_path: Path) -> None:
    from esnas.studies.nb201_search import compose_search, scorer_key

    with pytest.raises(EsnasInputError, match=r"a study row's search config .*strategy=nope"):
        compose_search(["strategy=nope"], tmp_path / "run", tmp_path, None)
    row = ["space=nb201", "probe.seed=0"]  # as the study pins it: search seeds share scores

    def compose(*extra: str):
        return compose_search([*row, *extra], tmp_path / "run", tmp_path, None)

    base, same, other = compose(), compose("seed=3"), compose("probe.batch_size=8")
    assert scorer_key(base) == scorer_key(same) != scorer_key(other)


def test_the_family_study_keeps_runs_with_extra_overrides_apart() -> None:
    from esnas.studies.esformer_family import run_name

    assert run_name("xs", 0, []) == "esformer_xs_s0"
    assert run_name("xs", 0, ["probe.batch_size=4"]) != run_name("xs", 0, ["probe.batch_size=8"])

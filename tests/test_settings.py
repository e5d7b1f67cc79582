"""The settings model: defaults, one-line errors naming the field, digest, TOML round trip."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from grader.settings import Settings, SettingsError, load_settings, validated

ROOT = Path(__file__).resolve().parents[1]

# (TOML text, the field the one-line error must name)
BAD = [
    ("hidden_dim = 0", "hidden_dim"),
    ("alpha = -0.1", "alpha"),
    ("alpha = 0", "alpha"),
    ("iterations = 500", "accuracy_window"),  # the default window of 1000 no longer fits
    ("iterations = 2000\naccuracy_window = 2001", "accuracy_window"),
    ('reference_loss = "l1"', "reference_loss"),
    ('accepted_losses = ["bce", "l2"]', "accepted_losses"),
    ('accepted_losses = ["bce", "bce"]', "accepted_losses"),
    ("unknown_key = 1", "unknown_key"),
    ("operand_max = 129", "operand_max"),  # 128 + 128 = 256 needs 9 bits
    ("bits = 6", "operand_max"),  # the default operand_max 128 needs 8 bits
    ("seeds = [1, 2]", "seeds"),  # runs is 3
    ("runs = 2\nseeds = [1, 2, 3]", "seeds"),
    ('hidden_dim = "sixteen"', "hidden_dim"),
    ("[tolerances]\nforward_atol = 0", "tolerances.forward_atol"),
    ("[limits]\nimport_seconds = -1", "limits.import_seconds"),
    ("[points]\nbonus = 3", "points.bonus"),
    ('accepted_losses = ["mse"]', "reference_loss"),  # the reference's bce is not accepted
    ("input_dim = 3", "input_dim"),  # binary addition has two input bits per step
    ("seeds = [1, -2, 3]", "seeds"),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_defaults_are_valid() -> None:
    settings = Settings()
    assert load_settings(None) == settings
    assert settings.run_seeds == (settings.seed, settings.seed + 1, settings.seed + 2)
    assert settings.n_params == 16 * 2 + 16 * 16 + 16 + 16 + 1 == 321
    assert settings.param_shapes() == {
        "U": (16, 2), "W": (16, 16), "V": (1, 16), "b": (16,), "c": (1,),
    }
    assert settings.accuracy_window <= settings.iterations
    assert settings.reference_loss in settings.accepted_losses


@pytest.mark.parametrize("text, field", BAD, ids=[b[0].replace("\n", "; ") for b in BAD])
def test_bad_value_raises_one_line_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    assert field in message
    assert message.startswith(str(path))


def test_unreadable_files_raise_one_line(tmp_path: Path) -> None:
    for path in (write(tmp_path, "alpha = = 1"), tmp_path / "missing.toml"):
        with pytest.raises(SettingsError) as info:
            load_settings(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    "text, field",
    [BAD[0], BAD[3], BAD[5], BAD[8], BAD[9], BAD[11], BAD[14], ("alpha = = 1", "TOML")],
    ids=["hidden", "window", "loss", "unknown", "operand_max", "seeds", "nested", "syntax"],
)
def test_cli_reports_bad_settings_in_one_line(tmp_path: Path, text: str, field: str) -> None:
    done = run_cli("settings", "--settings", str(write(tmp_path, text)))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert field in lines[0] and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_digest_is_stable_and_follows_every_value() -> None:
    base = Settings()
    assert base.digest() == Settings().digest() == load_settings(None).digest()
    changed = [
        Settings(alpha=0.05),
        Settings(hidden_dim=8),
        Settings(seeds=(1, 2, 3)),
        Settings(reference_loss="mse"),
        Settings(tolerances={"numeric_rtol": 1e-4}),
        Settings(points={"performance": 40.0}),
    ]
    digests = {s.digest() for s in changed}
    assert base.digest() not in digests and len(digests) == len(changed)
    # the report's rubric and lateness are applied by a person to the class: they regrade nothing
    assert Settings(report={"plot": 5.0}).digest() == Settings(late={"policy": "zero_after"}).digest() == base.digest()


def test_the_rubric_is_a_table_of_criteria_and_the_old_form_still_reads() -> None:
    assert [(c.name, c.points) for c in Settings().report.criteria] == [
        ("plot", 10), ("data_generation", 10), ("forward", 20), ("bptt", 20), ("code", 10)]
    old = Settings(report={"plot": 5.0})
    assert old.report.max_points == 65 and old.report.criteria[0].describes.startswith("a plot")
    course = Settings(report={"criteria": [{"name": "essay", "points": 40, "describes": "why RNNs"}]})
    assert course.report.max_points == 40 and validated(tomllib.loads(course.to_toml()), "t") == course
    for bad, says in (({"essay": 3}, "not a criterion of the handout"),
                      ({"criteria": [{"name": "a", "points": 1}, {"name": "a", "points": 2}]}, "twice"),
                      ({"criteria": [{"name": "total", "points": 1}]}, "a column of its own"),
                      ({"criteria": [{"name": "Plot 1", "points": 1}]}, "pattern"),
                      ({"criteria": [{"name": "a", "points": -1}]}, "greater than or equal"),
                      ({"plot": -5}, "greater than or equal"), ({"plot": "ten"}, "valid number")):  # the old form too
        with pytest.raises(SettingsError, match=says):
            validated({"report": bad}, "t")
    assert Settings(alpha=0.05).digest() == Settings(alpha=0.05).digest()


def test_digest_is_the_same_in_another_process(tmp_path: Path) -> None:
    path = write(tmp_path, "hidden_dim = 12\n[tolerances]\nforward_atol = 1e-9")
    done = run_cli("settings", "--settings", str(path))
    assert done.returncode == 0, done.stderr
    assert load_settings(path).digest() in done.stdout


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(
            hidden_dim=8, alpha=0.05, seeds=(4, 5), runs=2, accepted_losses=("mse",),
            reference_loss="mse", tolerances={"numeric_eps": 1e-7}, limits={"memory_mb": 1024},
        ),
    ],
    ids=["defaults", "changed"],
)
def test_to_toml_round_trips(tmp_path: Path, settings: Settings) -> None:
    loaded = load_settings(write(tmp_path, settings.to_toml()))
    assert loaded == settings
    assert loaded.digest() == settings.digest()


def test_with_overrides_validates() -> None:
    settings = Settings(seeds=(1, 2, 3))
    assert settings.with_overrides(iterations=3000).iterations == 3000
    assert settings.with_overrides(runs=5).run_seeds == tuple(settings.seed + i for i in range(5))
    with pytest.raises(SettingsError, match="accuracy_window"):
        settings.with_overrides(iterations=10)


def test_gates_and_points_name_real_checks():
    """The settings' list of checks that may gate, and the points per check, stay within the
    grader's checks; a misspelt gate is refused when the settings load."""
    import typing

    import pytest

    from grader.results import CHECK_NAMES
    from grader.settings import Gate, Points, Settings, SettingsError, validated

    assert set(typing.get_args(Gate)) <= set(CHECK_NAMES) - {"train"}
    assert set(Points.model_fields) - {"performance"} <= set(CHECK_NAMES)
    assert Settings().gates == ("forward_values", "gradient_reference", "integrity")
    assert validated({"gates": ["gradient_reference", "integrity"]}, "test").gates == ("gradient_reference", "integrity")
    with pytest.raises(SettingsError, match="gates"):
        validated({"gates": ["gradient_referense"]}, "test")

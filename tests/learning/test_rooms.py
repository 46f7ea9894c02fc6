"""The learning layer's rooms (docs/engine.md): which room may import which, at most four
modules beside the rooms, the public names of ``metasym.learning`` unchanged, and the old
flat module paths still importable (with a warning) for one release."""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from pathlib import Path

import pytest

import metasym.learning

LEARNING = Path(metasym.learning.__file__).parent
GROUND = {"registry", "limits", "stats", "_moved"}
ROOMS = ("models", "data", "learners", "comparison", "engine", "problems", "experiments")

#: room -> what it may import inside ``metasym.learning`` (besides itself and the ground
#: floor); entries with a dot allow one module of another room only
ALLOWED = {
    "ground": set(),
    "models": set(),
    "data": set(),
    "learners": {"models", "data"},
    "comparison": {"models", "data", "learners", "engine.protocol"},
    "engine": {"problems.custom"},
    "problems": {"models", "data", "learners", "comparison", "engine"},
    "experiments": {"models", "data", "learners", "comparison", "engine", "problems"},
}

#: the ``__all__`` of every module before the split (0.1)
OLD_PUBLIC = {
    "layers": ('MSRLinear', 'FullyConnected', 'LocallyConnected1d', 'Conv1dLayer', 'inner_parameter_names', 'dense_weight', 'export_linear', 'build_model', 'MODEL_NAMES'),
    "conv2d": ('MSRConv2d', 'FullMSRConv2d', 'SquareMSRConv2d', 'Conv2dMAML', 'CONV_MODEL_NAMES', 'build_conv_model'),
    "convnet": ('FieldNorm', 'FieldHead', 'ConvNet', 'ExactBlocks', 'exact_blocks', 'build_convnet', 'parameter_counts', 'symmetric_padding'),
    "maml": ('MetaLearner', 'loop_task_losses'),
    "augment": ('AUGMENTATION_NAMES', 'DEFAULT_ROTATE', 'DEFAULT_CROP', 'Augmentation', 'AugmentationDraw', 'exact_group_order'),
    "tasks": ('Answer', 'TaskSet', 'rank_problem', 'equivariant_problem', 'load_npz', 'save_npz', 'make_problem', 'PROBLEMS'),
    "images": ('IMAGE_PROBLEMS', 'ImageProblem', 'ImageTasks', 'StatsBatch', 'image_problem', 'make_image_tasks', 'ConvMetaLearner', 'build_conv_learner', 'resolve_rank', 'loop_conv_task_losses', 'grid_equivariance_error', 'compare_images', 'image_rows', 'plot_image_comparison'),
    "fewshot": ('EpisodeBatch', 'EpisodeSource', 'FewShotLearner', 'invariance_errors', 'UNLIMITED_EPISODES'),
    "fewshot_data": ('ImageClasses', 'GlyphAlphabet', 'GLYPH_ALPHABETS', 'GLYPH_BACKGROUND_ALPHABETS', 'GLYPH_EVALUATION_ALPHABETS', 'GLYPH_FACES', 'GLYPH_DATASET_VERSION', 'MAX_CHARACTERS_PER_ALPHABET', 'glyph_dataset', 'glyph_cache_path', 'default_cache_dir', 'load_omniglot', 'load_miniimagenet', 'plot_samples', 'dataset_statistics'),
    "compare": ('subspace_distance', 'principal_cosines', 'adjusted_rand_index', 'recover_partition', 'shift_equivariance_error', 'span_error', 'compare_regression', 'regression_rows', 'plot_comparison'),
    "fewshot_compare": ('compare_fewshot', 'containment', 'energy_share', 'leading_subspace', 'field_span_error', 'grid_transforms', 'fewshot_rows', 'plot_fewshot_comparison'),
    "reproduce": ('REFERENCE_TABLE1', 'TABLE1_MODELS', 'TABLE1_PROBLEMS', 'table1', 'write_table'),
    "table2": ('TABLE2_PROBLEMS', 'TABLE2_MODELS', 'PAPER_TASKS', 'table2'),
    "table3": ('TABLE3_SETTINGS', 'TABLE3_MODELS', 'Table3Preset', 'PRESETS', 'table3'),
}


def _room(module: str) -> str:
    """``metasym.learning.data.images`` -> ``data``; ground-floor modules -> ``ground``."""
    head = module.split(".")[2]
    return "ground" if head in GROUND else head


def _learning_modules() -> dict[str, Path]:
    out = {}
    for path in LEARNING.rglob("*.py"):
        parts = path.relative_to(LEARNING.parent.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(module: str, path: Path) -> set[str]:
    """Every ``metasym.learning.*`` module named by an import in the file (module level
    and inside functions; relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")
                pkg = pkg if path.name == "__init__.py" else pkg[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    mods = _learning_modules()
    return {name for name in found if name in mods and name != module}


def test_at_most_four_modules_beside_the_rooms():
    flat = sorted(p.name for p in LEARNING.glob("*.py") if p.name != "__init__.py")
    assert len(flat) <= 4, flat
    packages = sorted(p.name for p in LEARNING.iterdir() if (p / "__init__.py").is_file())
    assert len(packages) >= 4 and set(ROOMS) <= set(packages), packages


def test_every_room_says_what_it_holds_and_may_import():
    for room in ROOMS:
        doc = ast.get_docstring(ast.parse((LEARNING / room / "__init__.py").read_text()))
        assert doc and "import" in doc, room


def test_imports_follow_the_rooms():
    bad = []
    for module, path in _learning_modules().items():
        if module == "metasym.learning":
            continue
        room = _room(module)
        allowed = ALLOWED[room]
        for target in _imports(module, path):
            if target == "metasym.learning":
                bad.append(f"{module} imports the package (import the module instead)")
                continue
            other = _room(target)
            if other in ("ground", room):
                continue
            inner = ".".join(target.split(".")[2:4])
            if other not in allowed and inner not in allowed:
                bad.append(f"{module} ({room}) imports {target} ({other})")
    assert not bad, "\n".join(bad)


def test_the_rule_checker_sees_a_violation(tmp_path):
    # negative control: an upward import written into a data module is found
    fake = tmp_path / "bad.py"
    fake.write_text("def f():\n    from metasym.learning.learners.maml import MetaLearner\n")
    assert _imports("metasym.learning.data.bad", fake) == {"metasym.learning.learners.maml"}


def test_public_names_unchanged():
    assert len(metasym.learning.__all__) == 54
    for name in metasym.learning.__all__:
        assert getattr(metasym.learning, name) is not None, name


@pytest.mark.parametrize("old", sorted(OLD_PUBLIC))
def test_old_module_paths_still_import_with_a_warning(old):
    full = f"metasym.learning.{old}"
    sys.modules.pop(full, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod = importlib.import_module(full)
    assert any(issubclass(w.category, DeprecationWarning) and full in str(w.message)
               for w in caught), [str(w.message) for w in caught]
    for name in OLD_PUBLIC[old]:
        value = getattr(mod, name)
        home = getattr(value, "__module__", "") or ""
        assert not home.startswith(full + "."), name
    with pytest.raises(AttributeError):
        mod.no_such_name  # noqa: B018


def test_from_package_import_old_module():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from metasym.learning import fewshot_data as fd
    from metasym.learning.data.classes import ImageClasses
    from metasym.learning.data.loaders import load_omniglot

    assert fd.ImageClasses is ImageClasses and fd.load_omniglot is load_omniglot


def test_unknown_old_name_is_not_invented():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("metasym.learning.no_such_module")

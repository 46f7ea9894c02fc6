"""``metasym reproduce table3``: augmented few-shot classification on the glyph data set.

The paper's third experiment (Aug-Omniglot): meta-training query sets are augmented, the
support sets and the meta-test episodes are not. Every setting (``N``-way ``K``-shot)
trains, with the same conv4 network and protocol:

* ``msr`` with the augmentation (every layer's ``U_block`` learned, of the exact
  dimension), and ``msr-square`` (square ``U_block``, starting at the identity: MSR that
  starts as MAML, the reference implementation's kind of MSR-Conv),
* ``maml`` with the augmentation, and without it,
* ``oracle`` with the augmentation (every ``U`` frozen to the exact pattern of the
  augmentation's group),

then reports the accuracy on the fixed test episodes of the held-out alphabets (mean and
95% interval), the invariance error of each adapted network to the group's transforms
(:func:`~metasym.learning.comparison.fewshot.compare_fewshot`), the learned blocks' distance
to the exact ones, and time, as Markdown and JSON. Two verdicts are computed, not
asserted: whether MSR beats MAML with augmentation by more than the combined 95%
interval, and the ratio of their invariance errors.

Presets: the default fits a 2-core CPU in under half an hour (32 channels, 5 query images
per class; 5-way: 500 outer steps of 8 episodes, 20-way: 200 steps of 4 episodes -- short
of convergence, most of all at 20-way); ``full=True`` is the paper's size for a GPU (64
channels, 15 query images, meta-batches of 32 / 16 episodes, 20,000 steps).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metasym.errors import SpecError

__all__ = ["TABLE3_SETTINGS", "TABLE3_MODELS", "Table3Preset", "PRESETS", "table3"]

#: (ways, shots) of the table.
TABLE3_SETTINGS = ((5, 1), (20, 1))
#: (label, model, augmented, square U_block) rows.
TABLE3_MODELS = (("msr", "msr", True, False), ("msr-square", "msr", True, True),
                 ("maml+aug", "maml", True, False), ("maml", "maml", False, False),
                 ("oracle", "oracle", True, False))


@dataclass(frozen=True)
class Table3Preset:
    """Sizes of a table3 run; ``steps`` and ``tasks_per_step`` per setting (by ways)."""

    channels: int
    queries: int
    steps: dict[int, int]
    tasks_per_step: dict[int, int]
    eval_every: int
    test_episodes: int = 600
    eval_tasks: int = 200
    threads: int | None = 2
    device: str = "cpu"


PRESETS = {
    "default": Table3Preset(channels=32, queries=5, steps={5: 500, 20: 200},
                            tasks_per_step={5: 8, 20: 4}, eval_every=100, eval_tasks=100),
    "full": Table3Preset(channels=64, queries=15, steps={5: 20_000, 20: 20_000},
                         tasks_per_step={5: 32, 20: 16}, eval_every=1000, threads=None,
                         device="cuda", eval_tasks=600),
}


def _cell(mean: float | None, ci: float | None) -> str:
    return "n/a" if mean is None else f"{100 * mean:.1f} +- {100 * ci:.1f}"


def _f(x: Any, d: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}g}"


def _energy(r: dict[str, Any]) -> str:
    if r.get("energy_in_exact") is None:
        return "n/a"
    return f"{r['energy_in_exact']:.3f} [{r['random_energy_in_exact']:.3f}]"


def _verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for setting in dict.fromkeys(r["setting"] for r in rows):
        by = {r["label"]: r for r in rows if r["setting"] == setting}
        for label in ("msr", "msr-square"):
            msr, maml = by.get(label), by.get("maml+aug")
            if msr is not None and maml is not None:
                out.append(_verdict(setting, label, msr, maml))
    return out


def _verdict(setting: str, label: str, msr: dict[str, Any], maml: dict[str, Any]
             ) -> dict[str, Any]:
    """MSR against MAML with augmentation: the accuracy difference against the sum of the
    two 95% half-widths (the conservative combination), and the ratio of their summed
    invariance errors."""
    diff = msr["accuracy"] - maml["accuracy"]
    margin = msr["accuracy_ci95"] + maml["accuracy_ci95"]
    inv_m = [e["relative_error"] for e in (msr["invariance"] or {}).values()]
    inv_b = [e["relative_error"] for e in (maml["invariance"] or {}).values()]
    ratio = sum(inv_b) / sum(inv_m) if inv_m and inv_b and sum(inv_m) > 0 else None
    return {"setting": setting, "model": label, "msr_minus_maml_aug": diff,
            "combined_ci95": margin, "msr_beats_maml_aug": diff > margin,
            "invariance_ratio_maml_over_msr": ratio,
            "invariance_5x_lower": ratio is not None and ratio >= 5}


def _markdown(rows: list[dict[str, Any]], verdicts: list[dict[str, Any]],
              info: dict[str, Any]) -> str:
    labels = [m[0] for m in TABLE3_MODELS if any(r["label"] == m[0] for r in rows)]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    by = {(r["setting"], r["label"]): r for r in rows}
    lines = [f"metasym table 3: glyphs (held-out alphabets), augmentation of meta-training "
             f"query sets `{info['augment']}` (exact group {info['group']}); conv4 with "
             f"{info['channels']} channels, {info['queries']} query images per class, "
             f"{info['inner_steps']} inner step(s); test accuracy (%) on "
             f"{info['test_episodes']} fixed test episodes, mean +- 95% CI", "",
             "| setting | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for s in settings:
        lines.append(f"| {s} | " + " | ".join(
            _cell(by[(s, lb)]["accuracy"], by[(s, lb)]["accuracy_ci95"]) if (s, lb) in by
            else "n/a" for lb in labels) + " |")
    lines += ["", "Invariance of the adapted network's logits (relative change under each "
              "transform, mean over up to 100 test episodes), learned sharing against the "
              "exact one (share of U's energy in the exact space, mean over conv layers; "
              "a random U has the figure in brackets), steps and time:", "",
              "| setting | model | " + " | ".join(f"inv. {t}" for t in info["transforms"])
              + " | U energy in exact | steps | episodes/s | s |",
              "|---|---|" + "---|" * (len(info["transforms"]) + 4)]
    for s in settings:
        for lb in labels:
            r = by.get((s, lb))
            if r is None:
                continue
            inv = r["invariance"] or {}
            lines.append(f"| {s} | {lb} | " + " | ".join(
                _f(inv.get(t, {}).get("relative_error")) for t in info["transforms"])
                + f" | {_energy(r)} | {r['steps']} | "
                f"{_f(r['episodes_per_second'])} | {r['seconds']:.0f} |")
    if verdicts:
        lines += ["", "Targets (computed, not tuned):", ""]
        for v in verdicts:
            lines.append(
                f"- {v['setting']}, {v['model']}: MSR - MAML+aug = "
                f"{100 * v['msr_minus_maml_aug']:+.1f} "
                f"points, combined 95% CI {100 * v['combined_ci95']:.1f}: "
                f"{'MSR better' if v['msr_beats_maml_aug'] else 'not significantly better'}"
                f"; invariance error MAML+aug / MSR = "
                f"{_f(v['invariance_ratio_maml_over_msr'])} (target >= 5: "
                f"{'met' if v['invariance_5x_lower'] else 'not met'})")
    return "\n".join(lines) + "\n"


def table3(*, full: bool = False, steps: int | None = None, out: str | Path = "runs/table3",
           overwrite: bool = False, threads: int | None = None, device: str | None = None,
           augment: str = "flip,rotate:30,crop", seed: int = 0, progress: bool = True,
           settings: list[tuple[int, int]] | None = None, models: list[str] | None = None,
           channels: int | None = None, test_episodes: int | None = None,
           glyph_alphabets: int | None = None, glyph_characters: int | None = None,
           ) -> dict[str, Any]:
    """Train every model on every setting; write ``out/WAYSwKs-LABEL/`` runs,
    ``out/table3.md`` and ``out/table3.json`` (see the module docstring).

    ``steps`` overrides the preset's outer steps of every setting; ``glyph_alphabets`` /
    ``glyph_characters`` / ``channels`` / ``test_episodes`` shrink it (tests).
    """
    import torch

    from metasym.learning.data.augment import Augmentation, exact_group_order
    from metasym.learning.engine import RunConfig, compare_run, fit, get_problem
    from metasym.learning.engine.runfolder import prepare_output
    from metasym.learning.experiments.tables import write_table
    from metasym.learning.problems.fewshot import FewShotOptions, load_splits

    preset = PRESETS["full" if full else "default"]
    settings = [tuple(s) for s in (settings or TABLE3_SETTINGS)]
    labels = [m[0] for m in TABLE3_MODELS]
    models = list(models or labels)
    for m in models:
        if m not in labels:
            raise SpecError(f"table3 models are {', '.join(labels)}, got {m!r}")
    aug = Augmentation.parse(augment)
    if aug.group_name() is None and "oracle" in models:
        raise SpecError(f"--augment {aug.spec()!r} has no exact group (flip, rot90): the "
                        "oracle row needs one")
    dev = device or preset.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError("table3 --full runs on a GPU (--device cuda) and none is available; "
                        "use --device cpu to run the full preset on the CPU (slow)")
    n_test = test_episodes or preset.test_episodes
    opts = FewShotOptions(augment=aug.spec(), channels=channels or preset.channels,
                          queries=preset.queries, test_episodes=n_test,
                          glyph_alphabets=glyph_alphabets, glyph_characters=glyph_characters)
    folder = prepare_output(out, overwrite=overwrite, kind="table3", resume_hint=False)
    out = folder.path
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    try:
        load_splits("glyphs", opts, progress=progress)  # build (or read) the cache once
        for ways, shots in settings:
            o = FewShotOptions(**{**opts.__dict__, "ways": ways, "shots": shots})
            base = RunConfig(problem="glyphs", model="msr", options=o, seed=seed,
                             steps=steps or preset.steps.get(ways, preset.steps[5]),
                             tasks_per_step=preset.tasks_per_step.get(ways, 4),
                             eval_every=preset.eval_every,
                             eval_tasks=min(preset.eval_tasks, n_test),
                             checkpoint_every=preset.eval_every,
                             threads=threads if threads is not None else preset.threads,
                             device=dev)
            sources = {}
            for label, model, augmented, square in TABLE3_MODELS:
                if label not in models:
                    continue
                cfg = base.replace(model=model, augment=aug.spec() if augmented else "none")
                if square:
                    d = exact_group_order(aug.group_name())
                    cfg = cfg.replace(rank=d * d * 9)
                key = cfg.options.augment
                if key not in sources:
                    sources[key] = get_problem("glyphs").task_source(cfg, torch.device(dev))
                name = f"{ways}w{shots}s-{label.replace('+', '-')}"
                final = fit(cfg, out / name, source=sources[key], progress=progress)
                cmp = compare_run(out / name, n_tasks=100).figures
                energy = [lay["energy_in_exact"] for lay in cmp["layers"].values()
                          if lay["energy_in_exact"] is not None]
                chance = [lay["random_energy_in_exact"] for lay in cmp["layers"].values()
                          if lay["energy_in_exact"] is not None]
                rows.append({
                    "setting": f"{ways}-way {shots}-shot", "ways": ways, "shots": shots,
                    "label": label, "model": model, "augment": cfg.options.augment,
                    "accuracy": final.test_all, "accuracy_ci95": final.test_all_ci95,
                    "test_episodes": final.all_test_tasks, "steps": final.steps,
                    "tasks_per_step": cfg.tasks_per_step,
                    "episodes_per_second": final.tasks_per_second,
                    "seconds": final.seconds, "step_sizes": final.step_sizes,
                    "invariance": cmp["invariance"],
                    "energy_in_exact": (sum(energy) / len(energy)) if energy else None,
                    "random_energy_in_exact": (sum(chance) / len(chance)) if chance else None,
                    "layers": cmp["layers"], "run": str(out / name),
                })
    except BaseException:
        folder.abort()
        raise
    verdicts = _verdicts(rows)
    from metasym.learning.comparison.fewshot import grid_transforms

    info = {"preset": "full" if full else "default", "augment": aug.spec(),
            "group": aug.group_name(), "channels": opts.channels, "queries": opts.queries,
            "inner_steps": 1, "test_episodes": n_test, "seed": seed, "device": dev,
            "transforms": list(grid_transforms(aug.group_name())),
            "seconds": time.perf_counter() - t0}
    md = _markdown(rows, verdicts, info)
    return write_table(folder, "table3", md, {**info, "rows": rows, "verdicts": verdicts})

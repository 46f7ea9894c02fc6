"""``metasym reproduce table3``: augmented few-shot classification on the glyph data set.

The paper's third experiment (Aug-Omniglot) in the benchmark's protocol: the *query*
images of every episode -- at meta-training and at meta-test -- are transformed by the
augmentation, the support images never are, so a model adapts on clean examples and is
scored on transformed ones. Every setting (``N``-way ``K``-shot) trains, with the same
conv4 network (:func:`~metasym.learning.models.convnet.build_convnet`) and protocol:

* ``msr`` (field-block ``U_block`` of the exact dimension, learned), ``msr-square``
  (square ``U_block`` starting at the identity) and ``msr-kron`` (the paper's MSR-Conv:
  square output, input and spatial Kronecker factors starting at the identity), each
  meta-trained with the augmentation;
* ``maml+aug`` (meta-trained with the augmentation) and ``maml`` (meta-trained on clean
  queries, tested on the same augmented test episodes);
* ``oracle``: every ``U`` frozen to the exact blocks of the augmentation's exact group
  (the group the flips and quarter turns generate; crops and small rotations have none).

Reported per run: the accuracy on the augmented test queries (the benchmark's metric)
and on the same episodes' clean queries, each with its 95% interval; the share of the
learned ``U``'s energy in the exact space (mean over the convolutions, at the best
relabelling of each layer's channels) and a random ``U``'s; the invariance error of the
adapted network's logits under the exact group's generators; every layer's inner step
size. Verdicts are computed, not asserted: does the best MSR model beat ``maml+aug`` by
more than the combined 95% interval, with an energy share at least twice a random
``U``'s and a fifth of ``maml+aug``'s invariance error; does the oracle beat ``maml+aug``
(whether the task can show the claim at all).

Presets: the default fits a 2-core CPU (see :data:`PRESETS`); ``full=True`` is the
paper's size for a GPU. A rerun of the same command continues: finished runs are kept,
unfinished ones resumed (:func:`~metasym.learning.experiments.tables.run_once`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from metasym.errors import SpecError

__all__ = ["TABLE3_SETTINGS", "TABLE3_MODELS", "DEFAULT_AUGMENT", "Table3Preset", "PRESETS",
           "table3"]

#: (ways, shots) of the table.
TABLE3_SETTINGS = ((5, 1), (20, 1))
#: row label -> (model, meta-trained with the augmentation)
TABLE3_MODELS = {"msr": ("msr", True), "msr-square": ("msr-square", True),
                 "msr-kron": ("msr-kron", True), "maml+aug": ("maml", True),
                 "maml": ("maml", False), "oracle": ("oracle", True)}
#: The paper's augmentation (its appendix D.3): resized crops of 80-100% of the area,
#: horizontal and vertical flips, rotations of up to 30 degrees.
DEFAULT_AUGMENT = "flip,vflip,rotate:30,crop"


@dataclass(frozen=True)
class Table3Preset:
    """Sizes of a table3 run; ``steps`` and ``tasks_per_step`` per setting (by ways)."""

    channels: int
    queries: int
    steps: dict[int, int]
    tasks_per_step: dict[int, int]
    eval_every: int
    image_size: int | None = None
    test_episodes: int = 600
    eval_tasks: int = 100
    step_sizes: str = "learned"
    inner_steps: int = 1
    threads: int | None = 2
    device: str = "cpu"
    notes: tuple[str, ...] = field(default=())


#: The table's sizes: ``"default"`` fits a 2-core CPU (the whole table:
#: ``metasym.durations.DURATIONS["table3"]``), ``"full"`` is the paper's size for a GPU.
PRESETS = {
    "default": Table3Preset(channels=32, queries=5, steps={5: 500, 20: 200},
                            tasks_per_step={5: 8, 20: 4}, eval_every=100),
    "full": Table3Preset(channels=64, queries=15, steps={5: 20_000, 20: 20_000},
                         tasks_per_step={5: 32, 20: 16}, eval_every=1000, threads=None,
                         device="cuda", eval_tasks=600),
}


def _f(x: Any, d: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}g}"


def _cell(mean: float | None, ci: float | None) -> str:
    return "n/a" if mean is None else f"{100 * mean:.1f} +- {100 * ci:.1f}"


def _mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return sum(xs) / len(xs) if xs else None


def _row(label: str, model: str, augmented: bool, augment: str, ways: int, shots: int,
         cfg: Any, path: Path, final: dict[str, Any]) -> dict[str, Any]:
    """A table row from a finished run (its ``final.json`` and a comparison)."""
    from metasym.learning.engine import compare_run

    cmp = compare_run(path, n_tasks=100).figures
    convs = [lay for name, lay in cmp["layers"].items() if name != "head"]
    inv = cmp["invariance"] or {}
    return {
        "setting": f"{ways}-way {shots}-shot", "ways": ways, "shots": shots, "model": label,
        "network": model, "augment": augment if augmented else "none",
        "test_augment": augment,
        "accuracy": final["test_accuracy_all"],
        "accuracy_ci95": final["test_accuracy_all_ci95"],
        "accuracy_clean": final.get("test_accuracy_clean_all"),
        "accuracy_clean_ci95": final.get("test_accuracy_clean_all_ci95"),
        "u_energy_exact": _mean([lay.get("energy_in_exact") for lay in convs]),
        "u_energy_random": _mean([lay.get("random_energy_in_exact") for lay in convs
                                  if lay.get("energy_in_exact") is not None]),
        "invariance_error": _mean([e["relative_error"] for e in inv.values()]),
        "invariance": inv,
        "adaptation": {name: lay.get("adaptation") for name, lay in cmp["layers"].items()},
        "step_sizes": final["step_sizes"], "test_episodes": final["all_test_tasks"],
        "steps": final["steps"], "tasks_per_step": cfg.tasks_per_step,
        "episodes_per_second": final.get("tasks_per_second"), "seconds": final["seconds"],
        "run": str(path),
    }


def _verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setting: the best MSR model against ``maml+aug`` (accuracy difference against
    the sum of the two 95% half-widths, energy share against a random ``U``'s,
    invariance error ratio), and the oracle against ``maml+aug``."""
    out = []
    for setting in dict.fromkeys(r["setting"] for r in rows):
        by = {r["model"]: r for r in rows if r["setting"] == setting}
        base = by.get("maml+aug")
        if base is None:
            continue
        msrs = [by[m] for m in ("msr", "msr-square", "msr-kron") if m in by]
        v: dict[str, Any] = {"setting": setting}
        if msrs:
            best = max(msrs, key=lambda r: r["accuracy"])
            diff = best["accuracy"] - base["accuracy"]
            margin = best["accuracy_ci95"] + base["accuracy_ci95"]
            ratio = (base["invariance_error"] / best["invariance_error"]
                     if best["invariance_error"] and base["invariance_error"] is not None
                     else None)
            energy = (best["u_energy_exact"] / best["u_energy_random"]
                      if best["u_energy_exact"] is not None and best["u_energy_random"]
                      else None)
            v.update(best_msr=best["model"], msr_minus_maml_aug=diff, combined_ci95=margin,
                     msr_beats_maml_aug=diff > margin,
                     energy_over_random=energy,
                     energy_target_met=energy is not None and energy >= 2,
                     invariance_ratio_maml_aug_over_msr=ratio,
                     invariance_target_met=ratio is not None and ratio >= 5)
        if "oracle" in by:
            o = by["oracle"]
            v.update(oracle_minus_maml_aug=o["accuracy"] - base["accuracy"],
                     oracle_beats_maml_aug=o["accuracy"] - base["accuracy"]
                     > o["accuracy_ci95"] + base["accuracy_ci95"])
        out.append(v)
    return out


def _markdown(rows: list[dict[str, Any]], verdicts: list[dict[str, Any]],
              info: dict[str, Any]) -> str:
    labels = [m for m in TABLE3_MODELS if any(r["model"] == m for r in rows)]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    by = {(r["setting"], r["model"]): r for r in rows}

    def line(key: str) -> list[str]:
        return [f"| {s} | " + " | ".join(
            _cell(by[(s, m)][key], by[(s, m)][key + "_ci95"]) if (s, m) in by else "n/a"
            for m in labels) + " |" for s in settings]

    head = ["| setting | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    lines = [f"metasym table 3: glyphs (held-out alphabets); augmentation `{info['augment']}` "
             f"of the query images of every episode (exact group: {info['group']}), supports "
             f"clean; `maml` is meta-trained on clean queries. conv4 with "
             f"{info['channels']} channels, {info['queries']} query images per class, "
             f"{info['inner_steps']} inner step(s), step sizes {info['step_sizes']}; "
             f"{info['test_episodes']} fixed test episodes, mean +- 95% CI (%).", "",
             "Accuracy on augmented test queries (the benchmark's metric):", "", *head,
             *line("accuracy"), "", "Accuracy on the same episodes' clean queries:", "",
             *head, *line("accuracy_clean"), "",
             "Learned sharing (share of U's energy in the exact space, mean over the "
             "convolutions, best channel relabelling; a random U in brackets), invariance "
             "error of the adapted logits under the exact group's generators (mean), "
             "inner step sizes (conv1..convN, head), time:", "",
             "| setting | model | U energy in exact | invariance error | step sizes | steps "
             "| episodes/s | s |", "|---|---|---|---|---|---|---|---|"]
    for s in settings:
        for m in labels:
            r = by.get((s, m))
            if r is None:
                continue
            energy = ("n/a" if r["u_energy_exact"] is None else
                      f"{r['u_energy_exact']:.3f} [{r['u_energy_random']:.3f}]")
            steps = " ".join(f"{v:.2g}" for k, v in r["step_sizes"].items()
                             if not k.endswith("bias"))
            lines.append(f"| {s} | {m} | {energy} | {_f(r['invariance_error'])} | {steps} | "
                         f"{r['steps']} | {_f(r['episodes_per_second'])} | "
                         f"{r['seconds']:.0f} |")
    if verdicts:
        lines += ["", "Targets (computed, not tuned):", ""]
        for v in verdicts:
            parts = []
            if "best_msr" in v:
                parts.append(
                    f"best MSR ({v['best_msr']}) - maml+aug = "
                    f"{100 * v['msr_minus_maml_aug']:+.1f} points, combined 95% CI "
                    f"{100 * v['combined_ci95']:.1f}: "
                    f"{'MSR better' if v['msr_beats_maml_aug'] else 'not significantly better'}"
                    f"; U energy / random = {_f(v['energy_over_random'])} (target >= 2: "
                    f"{'met' if v['energy_target_met'] else 'not met'}); invariance error "
                    f"maml+aug / MSR = {_f(v['invariance_ratio_maml_aug_over_msr'])} (target "
                    f">= 5: {'met' if v['invariance_target_met'] else 'not met'})")
            if "oracle_minus_maml_aug" in v:
                better = ("oracle better" if v["oracle_beats_maml_aug"] else
                          "oracle not significantly better")
                parts.append(f"oracle - maml+aug = {100 * v['oracle_minus_maml_aug']:+.1f} "
                             f"points ({better})")
            lines.append(f"- {v['setting']}: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def table3(*, full: bool = False, steps: int | None = None, out: str | Path = "runs/table3",
           overwrite: bool = False, threads: int | None = None, device: str | None = None,
           augment: str = DEFAULT_AUGMENT, seed: int = 0, progress: bool = True,
           settings: list[tuple[int, int]] | None = None, models: list[str] | None = None,
           channels: int | None = None, test_episodes: int | None = None,
           glyph_alphabets: int | None = None, glyph_characters: int | None = None,
           eval_split: str = "test") -> dict[str, Any]:
    """Train every model on every setting; write ``out/WAYSwKs-LABEL/`` runs,
    ``out/table3.md`` and ``out/table3.json`` (see the module docstring). A rerun with
    the same arguments continues an interrupted table.

    ``steps`` overrides the preset's outer steps of every setting; ``glyph_alphabets`` /
    ``glyph_characters`` / ``channels`` / ``test_episodes`` shrink it (tests);
    ``eval_split="validation"`` meta-tests on held-out training alphabets (for choosing
    settings).
    """
    import torch

    from metasym.learning.data.augment import Augmentation
    from metasym.learning.engine import RunConfig, get_problem
    from metasym.learning.experiments.tables import open_table, run_once, write_table
    from metasym.learning.problems.fewshot import FewShotOptions, load_splits

    preset = PRESETS["full" if full else "default"]
    settings = [tuple(s) for s in (settings or TABLE3_SETTINGS)]
    models = list(models or TABLE3_MODELS)
    for m in models:
        if m not in TABLE3_MODELS:
            raise SpecError(f"table3 models are {', '.join(TABLE3_MODELS)}, got {m!r}")
    aug = Augmentation.parse(augment)
    if not aug.active:
        raise SpecError("table3 compares models on augmented queries: give an augmentation")
    if aug.group_name() is None and ("oracle" in models or "msr" in models):
        raise SpecError(f"--augment {aug.spec()!r} has no exact group (flip, vflip, rot90): "
                        "the oracle and msr rows need one")
    dev = device or preset.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError("table3 --full runs on a GPU (--device cuda) and none is available; "
                        "use --device cpu to run the full preset on the CPU (slow)")
    n_test = test_episodes or preset.test_episodes
    opts = FewShotOptions(augment=aug.spec(), channels=channels or preset.channels,
                          queries=preset.queries, test_episodes=n_test,
                          image_size=preset.image_size, step_sizes=preset.step_sizes,
                          glyph_alphabets=glyph_alphabets, glyph_characters=glyph_characters,
                          eval_split=eval_split)
    folder = open_table(out, "table3", overwrite=overwrite)
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
                             inner_steps=preset.inner_steps,
                             eval_every=preset.eval_every,
                             eval_tasks=min(preset.eval_tasks, n_test),
                             checkpoint_every=preset.eval_every,
                             threads=threads if threads is not None else preset.threads,
                             device=dev)
            source = None  # one episode source serves every model of a setting
            for label in models:
                model, augmented = TABLE3_MODELS[label]
                cfg = base.replace(model=model,
                                   options=o.__class__(**{**o.__dict__,
                                                          "augment_training": augmented}))
                if source is None:
                    source = get_problem("glyphs").task_source(cfg, torch.device(dev))
                source.augment_training = augmented
                name = f"{ways}w{shots}s-{label.replace('+', '-')}"
                row = partial(_row, label, model, augmented, aug.spec(), ways, shots, cfg)
                rows.append(run_once(cfg, out / name, row, source=source, progress=progress))
    except BaseException:
        folder.release()  # finished runs stay: a rerun continues
        raise
    verdicts = _verdicts(rows)
    info = {"preset": "full" if full else "default", "augment": aug.spec(),
            "group": aug.group_name(), "channels": opts.channels, "queries": opts.queries,
            "image_size": opts.image_size, "inner_steps": preset.inner_steps,
            "step_sizes": preset.step_sizes, "test_episodes": n_test,
            "eval_split": eval_split, "seed": seed, "device": dev,
            "seconds": time.perf_counter() - t0}
    md = _markdown(rows, verdicts, info)
    return write_table(folder, "table3", md, {**info, "rows": rows, "verdicts": verdicts})

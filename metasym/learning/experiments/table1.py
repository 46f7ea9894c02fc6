"""``metasym reproduce table1``: the paper's 1-D synthetic table, ours beside the reference.

The reference figures are the unmodified reference implementation's, measured on this
kind of machine (2 CPU cores, one thread, torch 2.13, ``higher`` 0.2.1, 1000 outer steps,
1 inner step, 300 held-out tasks, mean +- 95% t-interval half-width); see
``docs/learning.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metasym.errors import SpecError
from metasym.learning.experiments.tables import write_table

__all__ = ["REFERENCE_TABLE1", "TABLE1_MODELS", "TABLE1_PROBLEMS", "table1"]

TABLE1_PROBLEMS = ("rank1", "rank2", "rank5")
TABLE1_MODELS = ("maml-fc", "maml-lc", "maml-conv", "msr-fc")

#: Reference implementation, defaults (1000 steps, 1 inner step): (mean, ci95).
REFERENCE_TABLE1: dict[str, dict[str, tuple[float, float]]] = {
    "rank1": {"maml-fc": (2.976, 0.293), "maml-lc": (2.863, 0.267),
              "maml-conv": (0.154, 0.027), "msr-fc": (0.171, 0.030)},
    "rank2": {"maml-fc": (1.871, 0.131), "maml-lc": (1.821, 0.138),
              "maml-conv": (0.508, 0.048), "msr-fc": (0.458, 0.036)},
    "rank5": {"maml-fc": (1.013, 0.062), "maml-lc": (0.921, 0.052),
              "maml-conv": (0.442, 0.023), "msr-fc": (0.358, 0.018)},
}


def _markdown(rows: list[dict[str, Any]], problems: list[str], models: list[str],
              steps: int, inner_steps: int) -> str:
    by = {(r["problem"], r["model"]): r for r in rows}
    head = "| problem | " + " | ".join(models) + " |"
    sep = "|---|" + "---|" * len(models)
    lines = [f"metasym ({steps} outer steps, {inner_steps} inner step(s), 300 held-out tasks; "
             "mean +- 95% CI) / reference implementation (1000 steps, 1 inner step)", "",
             head, sep]
    for prob in problems:
        cells = []
        for mdl in models:
            r = by[(prob, mdl)]
            ref = REFERENCE_TABLE1.get(prob, {}).get(mdl)
            ours = f"{r['test_mse']:.3f} +- {r['test_mse_ci95']:.3f}"
            cells.append(ours + (f" / {ref[0]:.3f} +- {ref[1]:.3f}" if ref else ""))
        lines.append(f"| {prob} | " + " | ".join(cells) + " |")
    lines += ["", "| problem | " + " | ".join(f"{m} s" for m in models) + " |", sep]
    for prob in problems:
        lines.append(f"| {prob} | " + " | ".join(
            f"{by[(prob, m)]['seconds']:.1f}" for m in models) + " |")
    return "\n".join(lines) + "\n"


def table1(*, steps: int = 1000, inner_steps: int = 1, out: str | Path = "runs/table1",
           overwrite: bool = False, threads: int | None = 1, n_tasks: int = 10_000,
           seed: int = 0, progress: bool = True, problems: list[str] | None = None,
           models: list[str] | None = None) -> dict[str, Any]:
    """Train every model on every 1-D problem and tabulate test MSE beside the reference.

    Writes ``out/PROBLEM-MODEL/`` run directories, ``out/table1.md`` and
    ``out/table1.json``; returns the JSON content plus the Markdown.
    """
    import torch

    from metasym.learning.engine import RunConfig, fit, get_problem
    from metasym.learning.engine.runfolder import prepare_output

    problems = list(problems or TABLE1_PROBLEMS)
    models = list(models or TABLE1_MODELS)
    for p in problems:
        if p not in TABLE1_PROBLEMS:
            raise SpecError(f"table1 problems are {', '.join(TABLE1_PROBLEMS)}, got {p!r}")
    for mdl in models:
        if mdl not in TABLE1_MODELS:
            raise SpecError(f"table1 models are {', '.join(TABLE1_MODELS)}, got {mdl!r}")
    folder = prepare_output(out, overwrite=overwrite, kind="table1", resume_hint=False)
    out = folder.path
    rows = []
    try:
        for prob in problems:
            base = RunConfig(problem=prob, steps=steps, inner_steps=inner_steps,
                             threads=threads, n_tasks=n_tasks, seed=seed)
            source = get_problem(prob).task_source(base, torch.device("cpu"))  # shared
            for mdl in models:
                final = fit(base.replace(model=mdl), out / f"{prob}-{mdl}", source=source,
                            progress=progress)
                rows.append({"problem": prob, "model": mdl, "test_mse": final.test,
                             "test_mse_ci95": final.test_ci95, "test_mse_all": final.test_all,
                             "test_mse_all_ci95": final.test_all_ci95,
                             "seconds": final.seconds,
                             "tasks_per_second": final.tasks_per_second,
                             "reference": REFERENCE_TABLE1[prob][mdl]})
    except BaseException:
        folder.abort()
        raise
    md = _markdown(rows, problems, models, steps, inner_steps)
    result = {"steps": steps, "inner_steps": inner_steps, "threads": threads, "rows": rows,
              "reference_source": "reference implementation, 1000 steps, 1 inner step, one "
                                  "thread (docs/learning.md)"}
    return write_table(folder, "table1", md, result)

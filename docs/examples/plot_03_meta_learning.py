"""
3. Meta-learn U and compare it with the analytic U^G
====================================================

The paper's rank1 problem: every task is a random 3-tap valid convolution
:math:`70 \\to 68`. MSR writes the layer as :math:`\\mathrm{vec}(W) = U v`; the inner loop
adapts :math:`v` on one support example, the outer loop learns :math:`U`. If the tasks share
the translation symmetry, the learned :math:`U` should span the exact convolution pattern,
which :func:`~metasym.representations.patterns.conv1d` derives from the translation group.
"""

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from metasym.learning import RunConfig, compare_run, fit
from metasym.representations import conv1d

FAST = os.environ.get("METASYM_DOCS_FAST") == "1"  # the tests run a tiny version

exact = conv1d(70, 3)
print(exact, "-", exact.description)

# %%
# Meta-train MSR-FC (``k = 3``) with 5 inner steps. The run folder holds
# ``config.json``, ``metrics.jsonl``, ``checkpoint.safetensors`` and ``final.json``.
cfg = RunConfig(problem="rank1", model="msr-fc", k=3, inner_steps=5,
                steps=60 if FAST else 2000, n_tasks=400 if FAST else 10_000,
                eval_tasks=50 if FAST else 300, seed=0)
run = Path(tempfile.mkdtemp()) / "rank1"
final = fit(cfg, run, progress=False)
print(f"test MSE {final.test:.4f} +- {final.test_ci95:.4f} "
      f"after {final.steps} outer steps ({final.tasks_per_second:.0f} tasks/s)")

# %%
# Compare the learned ``U`` with the analytic one: subspace distance (sine of the largest
# principal angle), the sharing partition recovered from ``U`` against the orbits
# (adjusted Rand index), and the equivariance error of adapted layers.
result = compare_run(run)
for key in ("subspace_distance", "partition_ari", "equivariance_error"):
    print(f"{key:20s} {result.figures[key]:.4f}")

# %%
# The training curve (held-out query MSE, evaluated every 100 steps).
steps = [h["step"] for h in final.history]
mse = [h["test_mse"] for h in final.history]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(steps, mse, marker="o")
ax.set_xlabel("outer step")
ax.set_ylabel("held-out query MSE")
ax.set_title("rank1, MSR-FC, 5 inner steps")
fig.tight_layout()

# %%
# Learned and exact patterns side by side (as ``metasym compare RUN --plot`` draws them).
png = result.plot(run / "compare.png")
img = plt.imread(png)
fig, ax = plt.subplots(figsize=(9, 5.5))
ax.imshow(img)
ax.axis("off")

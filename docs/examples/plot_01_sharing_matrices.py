"""
1. Ground-truth sharing matrices
================================

For a group and two of its actions, :func:`metasym.representations.sharing_pattern`
returns the exact sharing pattern of all equivariant linear maps, computed from the
generators only. Here: the dihedral group :math:`D_4` on a 3x3 kernel, mapping a
one-channel image patch to the four rotated copies of a feature (the regular action
restricted to rotations would give a lifting convolution; we keep it small).
"""

# %%
# Build a group and two actions from spec strings (the same strings the command line
# takes): ``rotoflips:3`` is :math:`D_4` acting on the 9 pixels of a 3x3 grid.
import matplotlib.pyplot as plt
import numpy as np

from metasym.groups import parse_action, parse_group
from metasym.representations import sharing_pattern

G = parse_group("rotoflips:3")
pixels = parse_action("natural", G)
print(G, "acting on", pixels.degree, "pixels")

# %%
# The sharing pattern of equivariant maps pixels -> pixels: one label per orbit of
# :math:`G` on (output, input) pairs.
P = sharing_pattern(pixels, pixels)
print("free parameters:", P.dimension)
print(P.labels)

# %%
# Its basis ``U`` (81 x 15, one 0/1 column per orbit) and a random equivariant map.
U = P.basis()
W = P.random_weight(rng=0)
print("U:", U.shape, " equivariance error of a random map in the span:",
      P.equivariance_error(W))
print("equivariance error of an unconstrained map:",
      round(P.equivariance_error(np.random.default_rng(0).standard_normal(P.shape)), 3))

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].imshow(np.ma.masked_less(P.labels, 0), cmap="tab20", interpolation="nearest")
axes[0].set_title(f"labels of {G.spec}: natural -> natural")
axes[1].imshow(U, cmap="Greys", aspect="auto", interpolation="nearest")
axes[1].set_title("U (81 x 15)")
fig.tight_layout()

# %%
# Export: to NumPy (``.npz`` with ``labels`` and ``U``) and to PyTorch.
import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as tmp:
    info = P.save(Path(tmp) / "d4.npz")
    with np.load(Path(tmp) / "d4.npz", allow_pickle=False) as f:
        print("saved arrays:", sorted(f.files), "U stored", info["U"])

try:
    U_torch = P.to_torch()  # float32 tensor; P.to_torch(sparse=True) for large patterns
    print("torch:", tuple(U_torch.shape), U_torch.dtype)
except ImportError:
    print("torch not installed")

# %%
# The same from the command line::
#
#     metasym sharing --group rotoflips:3 --save d4.npz --plot d4.png --json

"""
6. Characters, decompositions and large equivariant bases
=========================================================

A representation of a finite group splits into irreducibles; the character table says
how often each occurs, the isotypic projectors say where, and Schur's lemma turns the
decomposition into every equivariant linear map. This tutorial

1. computes the exact character table of the dihedral group :math:`D_4`,
2. decomposes the representation of :math:`D_4` on **planar vector fields** over a
   ``k x k`` grid (the grid permutation tensored with the 2-D rotation/reflection
   matrices), with the real type of each block,
3. builds the basis of the equivariant maps from that representation to itself: for
   ``k = 16`` a 512 x 512 weight with 262,144 unknowns, far beyond a dense nullspace,
4. computes a large table without listing the group: the symmetric group
   :math:`S_{20}` (20! elements, about 2.4e18; 627 classes) by the
   Murnaghan-Nakayama rule, checked exactly.
"""

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from metasym.groups import natural, rotoflips
from metasym.representations import (
    LinearRepresentation,
    character_table,
    equivariant_basis,
    isotypic_decomposition,
)
from metasym.representations.schur import hom_dimension
from metasym.representations.testing import assert_equivariant

FAST = os.environ.get("METASYM_DOCS_FAST") == "1"  # the tests run a tiny version
k = 6 if FAST else 16

# %%
# The group: :math:`D_4` acting on the pixels of a ``k x k`` grid (90-degree rotation
# and left-right flip, as ``np.rot90`` and ``np.fliplr``). Its character table is exact;
# the Frobenius-Schur indicators say every irreducible of :math:`D_4` is of real type.
G = rotoflips(k)
T = character_table(G)
print(T.format())
print("indicators:", T.indicators)

# %%
# A vector field puts a 2-D vector on each pixel. Rotating the field moves the pixels and
# turns the vectors: the representation is the grid permutation tensored with the
# rotation/reflection matrices (exact integers), degree ``2 k^2``.
vec = LinearRepresentation(G, [[[0, -1], [1, 0]], [[-1, 0], [0, 1]]], exact=True)
field = LinearRepresentation.from_permutation(natural(G)) * vec
print("degree", field.degree, "| multiplicities", T.multiplicities(field))

# %%
# The real isotypic decomposition: one projector per real irreducible,
# :math:`P = \frac{\chi(1)}{|G|}\sum_g \chi(g^{-1})\rho(g)`, with its multiplicity and
# real type (commutant :math:`\mathbb{R}`, :math:`\mathbb{C}` or :math:`\mathbb{H}`).
D = isotypic_decomposition(field)
for c in D.components:
    print(f"X.{c.characters[0] + 1}: {c.kind:<13} x{c.multiplicity:<3} dimension {c.dimension}")
print(f"projector check residual {D.residual:.1e}")

# %%
# The equivariant maps. ``equivariant_basis`` chooses the method: for this
# *permutation* ``⊗`` *matrix* structure the orbit method (one small stabiliser problem
# per orbit of pixel pairs, exact integers, sparse); for a general representation the
# Schur-lemma method; for small inputs the exact nullspace. The dimension is checked
# against the character formula :math:`\frac1{|G|}\sum_g \chi(g)^2`.
t0 = time.perf_counter()
B = equivariant_basis(field, field)
seconds = time.perf_counter() - t0
print(f"{B.shape[0]} x {B.shape[1]} maps: dimension {B.dimension} "
      f"(character formula {hom_dimension(field, field)}), residual {B.residual}, "
      f"{seconds:.2f} s")
print(B.method)

# %%
# A random equivariant map, checked with the generator matrices, and the same map from
# the Schur-lemma method (float64, structured) for comparison.
rng = np.random.default_rng(0)
W = B.weight(rng.normal(size=B.dimension))
assert_equivariant(W, (field, field), atol=1e-10)
t0 = time.perf_counter()
S = equivariant_basis(field, field, method="schur")
print(f"Schur method: dimension {S.dimension}, residual bound {S.residual:.1e}, "
      f"{time.perf_counter() - t0:.2f} s")

# %%
# The figure: the sparsity of one basis element's weight (left), the weight of a random
# equivariant map (middle), and the vector field it produces from a field with one
# nonzero vector (right).
c = B.dimension // 3
e = np.zeros(B.dimension)
e[c] = 1.0
Wc = B.weight(e)
x = np.zeros(field.degree)
x[2 * ((k // 4) * k + k // 4)] = 1.0  # one x-vector near a corner
y = (W @ x).reshape(k, k, 2)
fig, axes = plt.subplots(1, 3, figsize=(12, 4.4), layout="constrained")
axes[0].spy(Wc, markersize=1)
axes[0].set_title(f"basis element {c}: its nonzero entries")
axes[0].set_xlabel("input component")
axes[0].set_ylabel("output component")
lim = float(np.abs(W).max())
shown = axes[1].imshow(W, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
axes[1].set_title(f"random equivariant W ({W.shape[0]} x {W.shape[1]}):\nlooks like noise; "
                  "its symmetry is in how entries repeat", fontsize=9)
axes[1].set_xlabel("input component (pixel, x/y)")
axes[1].set_ylabel("output component (pixel, x/y)")
fig.colorbar(shown, ax=axes[1], shrink=0.8, label="entry of W (symmetric scale)")
yy, xx = np.mgrid[0:k, 0:k]
axes[2].quiver(xx, yy, y[..., 0], y[..., 1])
axes[2].set_title("W x: the output field, x one vector")
axes[2].set_xlabel("pixel column")
axes[2].set_ylabel("pixel row")
axes[2].set_aspect("equal")
axes[2].invert_yaxis()
plt.show()

# %%
# A large case: the symmetric group on 20 points. Its 627 classes are the cycle types,
# its irreducibles are indexed by partitions and computed by the Murnaghan-Nakayama rule
# (degrees by the hook length formula); nothing is enumerated. The exact checks
# (orthogonality modulo several primes, sum of squares, Frobenius-Schur with the closed
# form for the involutions of :math:`S_n`) run on a table alone.
from metasym.groups import symmetric  # noqa: E402
from metasym.representations.theorems import check_character_table  # noqa: E402

n = 12 if FAST else 20
T20 = character_table(symmetric(n))
print(f"S_{n}: {T20.n_classes} classes in {T20.seconds:.2f} s ({T20.method})")
print("largest degrees:", sorted(T20.degrees)[-3:])
print("sum of squared degrees = n!:", sum(d * d for d in T20.degrees) == T20.order)
# the exact checks take a few seconds at n = 20 (``metasym characters symmetric:20
# --check``); here on S_14 (135 classes) to keep the gallery fast
t0 = time.perf_counter()
checks = check_character_table(character_table(symmetric(14)))
print(f"S_14: {sum(r.passed for r in checks)} of {len(checks)} checks pass "
      f"({time.perf_counter() - t0:.2f} s)")

fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(np.log10(np.array(T20.degrees, dtype=float)), bins=40)
ax.set_xlabel("log10 degree")
ax.set_ylabel("irreducibles")
ax.set_title(f"degrees of the {T20.n_classes} irreducibles of S_{n}")
fig.tight_layout()
plt.show()

# %%
# A group known only by its generators: the Mathieu group :math:`M_{12}` (order 95,040)
# on 12 points. Above order 20,000 ``character_table`` never lists the group: classes by
# random search over a stabiliser chain (their sizes add up to :math:`|G|`, which proves
# every class was found), then Dixon-Schneider with only the class-matrix columns the
# splitting needs.
from metasym.groups import parse_group  # noqa: E402

M12 = parse_group("perm:12:(0 1 2 3 4 5 6 7 8 9 10);(2 6 10 7)(3 9 4 5);"
                  "(0 11)(1 10)(2 5)(3 7)(4 8)(6 9)")
T12 = character_table(M12)
print(f"M12: order {T12.order}, {T12.n_classes} classes in {T12.seconds:.2f} s")
print("degrees:", T12.degrees)
print("all checks pass:", all(r.passed for r in check_character_table(T12)))

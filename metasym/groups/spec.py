"""One spec grammar for groups and actions, shared by Python and the command line.

Groups::

    cyclic:8  dihedral:4  symmetric:5  alternating:5  klein  quaternion  abelian:2x2x3
    translations:6x4  rotations:5  rotoflips:5  flips:5  vflips:5  axisflips:5
    product(cyclic:2,dihedral:3)
    perm:6:(0 1 2)(3 4);(0 5)        degree, then generators in cycle notation

Actions (relative to a group)::

    natural  regular  trivial:3  tensor(natural,natural)  sum(natural,regular)
    perm:4:(0 1);(2 3)               degree, then the image of each generator
"""

from __future__ import annotations

from metasym.errors import SpecError, did_you_mean
from metasym.groups import constructors as C
from metasym.groups._perm import parse_cycles
from metasym.groups.actions import GroupAction, direct_sum, natural, regular, tensor, trivial
from metasym.groups.finite_group import DEGREE_LIMIT, FiniteGroup

__all__ = ["parse_group", "parse_action", "GROUP_FAMILIES", "ACTION_KINDS", "MAX_SPEC_DEPTH"]

#: Largest degree accepted in a spec (guards against ``cyclic:10**12`` style inputs).
MAX_SPEC_DEGREE = DEGREE_LIMIT
MAX_SPEC_LENGTH = 100_000
#: Deepest nesting of ``product(...)``, ``tensor(...)`` and ``sum(...)`` in a spec.
MAX_SPEC_DEPTH = 32
#: Largest degree of an action built from a spec (tensor products multiply degrees).
MAX_ACTION_DEGREE = 10_000_000
_DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() also accepts "٣" and "３"

GROUP_FAMILIES = ("cyclic", "dihedral", "symmetric", "alternating", "klein", "quaternion",
                  "abelian", "translations", "rotations", "rotoflips", "flips", "vflips",
                  "axisflips", "product", "perm")
#: families that act on a k x k pixel grid (degree k^2)
_GRID_FAMILIES = ("rotations", "rotoflips", "flips", "vflips", "axisflips")
ACTION_KINDS = ("natural", "regular", "trivial", "tensor", "sum", "perm")


class _Parser:
    def __init__(self, text: str, what: str) -> None:
        if not isinstance(text, str):
            raise SpecError(f"{what} spec must be a string, got {type(text).__name__}")
        if len(text) > MAX_SPEC_LENGTH:
            raise SpecError(f"{what} spec is longer than {MAX_SPEC_LENGTH} characters")
        self.s = text
        self.i = 0
        self.what = what
        self.depth = 0

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_SPEC_DEPTH:
            raise self.fail(f"nested more than {MAX_SPEC_DEPTH} levels deep")

    def fail(self, msg: str) -> SpecError:
        return SpecError(f"bad {self.what} spec {self.s!r}: {msg}")

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            got = self.s[self.i] if self.i < len(self.s) else "end of input"
            raise self.fail(f"expected {ch!r} at position {self.i}, found {got!r}")
        self.i += 1

    def word(self) -> str:
        self.skip_ws()
        j = self.i
        while j < len(self.s) and (self.s[j].isascii() and self.s[j].isalpha()
                                   or self.s[j] == "_"):
            j += 1
        if j == self.i:
            got = self.s[self.i] if self.i < len(self.s) else "end of input"
            raise self.fail(f"expected a name at position {self.i}, found {got!r}")
        w, self.i = self.s[self.i:j].lower(), j
        return w

    def integer(self) -> int:
        self.skip_ws()
        j = self.i
        while j < len(self.s) and self.s[j] in _DIGITS:
            j += 1
        if j == self.i:
            raise self.fail(f"expected a non-negative integer at position {self.i}")
        if j - self.i > 7:
            raise self.fail(f"number {self.s[self.i:j]} is too large (limit {MAX_SPEC_DEGREE})")
        v, self.i = int(self.s[self.i:j]), j
        if v > MAX_SPEC_DEGREE:
            raise self.fail(f"number {v} is too large (limit {MAX_SPEC_DEGREE})")
        return v

    def dims(self) -> list[int]:
        out = [self.integer()]
        while self.peek() == "x":
            self.i += 1
            out.append(self.integer())
        return out

    def cycles_list(self, degree: int) -> list:
        """``;``-separated permutations in cycle notation; stops at ``,`` / unmatched ``)``."""
        perms = []
        while True:
            self.skip_ws()
            j = self.i
            while j < len(self.s) and self.s[j] == "(":
                k = self.s.find(")", j)
                if k < 0:
                    raise self.fail("unclosed '(' in cycle notation")
                j = k + 1
                while j < len(self.s) and self.s[j] == " ":
                    j += 1
            if j == self.i:
                raise self.fail(f"expected a permutation in cycle notation at position {self.i}")
            perms.append(parse_cycles(self.s[self.i:j], degree))
            self.i = j
            if self.peek() == ";":
                self.i += 1
                continue
            return perms

    def args(self, item):
        self.expect("(")
        out = [item()]
        while self.peek() == ",":
            self.i += 1
            out.append(item())
        self.expect(")")
        return out

    def done(self) -> None:
        if self.peek() != "":
            raise self.fail(f"unexpected text at position {self.i}: {self.s[self.i:]!r}")

    # ----- groups ----------------------------------------------------------------------
    def group(self) -> FiniteGroup:
        start = self.i
        name = self.word()
        if name in ("klein", "quaternion"):
            return C.klein_four() if name == "klein" else C.quaternion()
        if name == "product":
            self.enter()
            factors = self.args(self.group)
            self.depth -= 1
            self._size_guard(sum(f.degree for f in factors), start)
            return C.direct_product(*factors)
        if name not in GROUP_FAMILIES:
            raise self.fail(f"unknown group family {name!r}{did_you_mean(name, GROUP_FAMILIES)}; "
                            f"known: {', '.join(GROUP_FAMILIES)}")
        self.expect(":")
        if name == "perm":
            degree = self.integer()
            if degree < 1:
                raise self.fail("degree must be at least 1")
            self.expect(":")
            gens = self.cycles_list(degree)
            return C.from_generators(gens, degree)
        dims = self.dims()
        if name in ("translations",):
            if len(dims) != 2:
                raise self.fail("translations takes HxW, e.g. translations:6x4")
            self._size_guard(dims[0] * dims[1], start)
            return C.translations(*dims)
        if name == "abelian":
            self._size_guard(sum(dims), start)
            return C.abelian(*dims)
        if len(dims) != 1:
            raise self.fail(f"{name} takes one integer, e.g. {name}:4")
        n = dims[0]
        self._size_guard(n * n if name in _GRID_FAMILIES else n, start)
        return getattr(C, name)(n)

    def _action_guard(self, degree: int, G: FiniteGroup) -> None:
        cells = degree * max(G.n_generators, 1)
        if degree > MAX_ACTION_DEGREE or cells > MAX_ACTION_DEGREE * 4:
            raise self.fail(f"an action on {degree} points is too large (limit "
                            f"{MAX_ACTION_DEGREE} points, {4 * MAX_ACTION_DEGREE} generator "
                            "image entries)")

    def _size_guard(self, degree: int, start: int) -> None:
        if degree > MAX_SPEC_DEGREE:
            raise self.fail(f"degree {degree} exceeds the limit {MAX_SPEC_DEGREE}")

    # ----- actions ---------------------------------------------------------------------
    def action(self, G: FiniteGroup) -> GroupAction:
        name = self.word()
        if name == "natural":
            return natural(G)
        if name == "regular":
            return regular(G)
        if name == "tensor":
            self.enter()
            acts = self.args(lambda: self.action(G))
            self.depth -= 1
            size = 1
            for a in acts:
                size *= a.degree
            self._action_guard(size, G)
            return tensor(*acts)
        if name == "sum":
            self.enter()
            acts = self.args(lambda: self.action(G))
            self.depth -= 1
            self._action_guard(sum(a.degree for a in acts), G)
            return direct_sum(*acts)
        if name not in ACTION_KINDS:
            raise self.fail(f"unknown action {name!r}{did_you_mean(name, ACTION_KINDS)}; "
                            f"known: {', '.join(ACTION_KINDS)}")
        self.expect(":")
        n = self.integer()
        if n < 1:
            raise self.fail("an action needs at least one point")
        if name == "trivial":
            return trivial(G, n)
        self.expect(":")
        images = self.cycles_list(n)
        if len(images) == 1 and G.n_generators == 0 and (images[0] == range(n)).all():
            images = []
        if len(images) != G.n_generators:
            raise self.fail(f"{G.spec} has {G.n_generators} generators; give one image each "
                            f"(got {len(images)})")
        return GroupAction(G, images, degree=n)


def parse_group(spec: str) -> FiniteGroup:
    """Build a :class:`FiniteGroup` from its spec string.

    >>> parse_group("product(cyclic:2,dihedral:3)").order
    12
    >>> parse_group("perm:6:(0 1 2)(3 4);(0 5)").degree
    6
    """
    p = _Parser(spec, "group")
    G = p.group()
    p.done()
    return G


def parse_action(spec: str, group: FiniteGroup | str) -> GroupAction:
    """Build a :class:`GroupAction` of ``group`` from its spec string.

    >>> parse_action("sum(natural,trivial:2)", "cyclic:3").degree
    5
    """
    G = parse_group(group) if isinstance(group, str) else group
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"group must be a FiniteGroup or a group spec string, got "
                        f"{type(group).__name__}")
    p = _Parser(spec, "action")
    a = p.action(G)
    p.done()
    return a

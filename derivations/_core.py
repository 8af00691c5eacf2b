"""The machinery every derivation shares: the registry, proofs, numeric checks, results.

A :class:`Derivation` couples two functions:

* ``build()`` does the symbolic work once per process (memoised): it writes the
  forward pass in SymPy, lets SymPy differentiate it, proves the closed form
  that nnref codes equal to SymPy's result, and returns a :class:`Symbolic`
  holding the LaTeX for the pages, the proofs, and lambdified functions;
* ``check(sym, checker)`` runs nnref's real classes at seeded random points
  and hands each ``(nnref value, SymPy value)`` pair to a :class:`Checker`.

The error of one comparison is the largest *mixed* error
$\\max |a - e| / (1 + |e|)$: absolute for entries below 1, relative above.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

__all__ = [
    "Proof",
    "Symbolic",
    "Comparison",
    "Result",
    "Checker",
    "Derivation",
    "REGISTRY",
    "register",
    "lambdify",
    "mixed_error",
    "DEFAULT_TOLERANCE",
]

#: float64 nnref code against SymPy's exact expressions: observed errors are
#: below 1e-15; 1e-10 leaves room for sums and divisions, and still catches
#: any wrong factor, sign or missing normalisation by orders of magnitude.
DEFAULT_TOLERANCE = 1e-10

#: Number of seeded random batches each derivation checks.
DRAWS = 8


@dataclass(frozen=True)
class Proof:
    """One exact statement SymPy decided.

    ``holds`` is what SymPy found; ``expected`` is what the statement must come
    out as for the derivation to pass (False for statements we *refute*, such
    as "the book's MAE gradient equals the derivative").
    """

    statement: str
    holds: bool
    expected: bool = True

    @property
    def ok(self) -> bool:
        """True when SymPy's verdict is the expected one."""
        return self.holds == self.expected


@dataclass
class Symbolic:
    """What ``build()`` returns: LaTeX for the pages, proofs, numeric functions."""

    latex: dict[str, str]
    proofs: list[Proof]
    fn: dict[str, Callable[..., Any]] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Comparison:
    """nnref against SymPy at one set of points (``kind`` is "random" or "convention")."""

    label: str
    error: float
    tolerance: float
    kind: str = "random"

    @property
    def passed(self) -> bool:
        """Whether the error is within the tolerance (NaN never passes)."""
        return bool(self.error <= self.tolerance)


@dataclass(frozen=True)
class Result:
    """The outcome of :meth:`Derivation.run`.

    Attributes
    ----------
    max_error : float
        Largest mixed error over every comparison with nnref.
    tolerance : float
        The derivation's tolerance on ``max_error``.
    proved : bool
        Every SymPy statement came out as expected.
    passed : bool
        ``proved`` and every comparison within its tolerance.
    details : tuple of str
        Human-readable lines: proofs, comparisons, notes.
    seconds : float
        Time of the numeric check alone (the symbolic work is timed in
        ``Derivation.symbolic.seconds``).
    """

    name: str
    chapter: int
    proved: bool
    max_error: float
    tolerance: float
    passed: bool
    proofs: tuple[Proof, ...]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]
    seconds: float

    @property
    def details(self) -> tuple[str, ...]:
        """Proofs, comparisons and notes as plain-text lines."""
        lines = [f"[{'ok' if p.ok else 'FAIL'}] SymPy: {p.statement} -> {p.holds}" for p in self.proofs]
        lines += [
            f"[{'ok' if c.passed else 'FAIL'}] nnref vs SymPy, {c.label}: error {c.error:.2e} "
            f"(tolerance {c.tolerance:.0e})"
            for c in self.comparisons
        ]
        lines += [f"note: {n}" for n in self.notes]
        return tuple(lines)


def mixed_error(actual: Any, expected: Any) -> float:
    """Largest ``|a - e| / (1 + |e|)``; ``inf`` on a shape mismatch or a NaN/inf disagreement."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    both_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - e) / (1.0 + np.abs(e))
    err = np.where(both_inf, 0.0, err)
    if np.isnan(err).any():
        return float("inf")
    return float(np.max(err))


class Checker:
    """Collects the comparisons of one numeric check.

    Parameters
    ----------
    name : str
        The derivation's name; it seeds ``rng`` so every run draws the same points.
    tolerance : float
        Default tolerance of :meth:`compare`.
    """

    def __init__(self, name: str, tolerance: float) -> None:
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.tolerance = tolerance
        self.draws = DRAWS
        self._worst: dict[tuple[str, str], Comparison] = {}
        self.notes: list[str] = []

    def compare(self, label: str, actual: Any, expected: Any, *, kind: str = "random",
                tolerance: float | None = None) -> float:
        """Record nnref's ``actual`` against SymPy's ``expected``; repeated labels keep the worst."""
        tol = self.tolerance if tolerance is None else tolerance
        err = mixed_error(actual, expected)
        key = (kind, label)
        old = self._worst.get(key)
        if old is None or not (err <= old.error):
            self._worst[key] = Comparison(label, err, tol, kind)
        return err

    def note(self, text: str) -> None:
        """Add an explanatory line to the result (not a pass/fail item)."""
        self.notes.append(text)

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        return tuple(self._worst.values())


class Derivation:
    """One gradient that nnref codes, derived and proved with SymPy and checked against nnref.

    Parameters
    ----------
    name : str
        Registry key, also the page name (``derivations/<name>.md``) and the CLI argument.
    title : str
        Page and table title.
    chapter : int
        The book chapter whose backward pass (or identity) this is.
    summary : str
        One or two sentences, Markdown, for the top of the page.
    closed_form_text : str
        The closed form in plain text, for the terminal table.
    objects : tuple of str
        The nnref objects whose code is checked (dotted names).
    build, check : callable
        See the module docstring.
    where : str
        Markdown legend for the symbols in the LaTeX.
    notes : str
        Markdown paragraphs for the end of the page (conventions, errata).
    tolerance : float
        Tolerance on the mixed error of every comparison.
    headings : dict, optional
        Page headings that replace the defaults for ``forward``,
        ``derivative`` or ``closed_form`` (Adam's page has a recurrence, not
        a forward pass).
    """

    def __init__(self, name: str, *, title: str, chapter: int, summary: str, closed_form_text: str,
                 objects: Iterable[str], build: Callable[[], Symbolic],
                 check: Callable[[Symbolic, Checker], None], where: str = "", notes: str = "",
                 tolerance: float = DEFAULT_TOLERANCE, headings: dict[str, str] | None = None) -> None:
        self.name = name
        self.title = title
        self.chapter = chapter
        self.summary = summary
        self.closed_form_text = closed_form_text
        self.objects = tuple(objects)
        self.where = where
        self.notes = notes
        self.tolerance = tolerance
        self.headings = dict(headings or {})
        self._build = build
        self._check = check
        self._symbolic: Symbolic | None = None
        self._result: Result | None = None

    # -- symbolic side (memoised: the first SymPy call of a process is slow) --
    @property
    def symbolic(self) -> Symbolic:
        """The memoised output of ``build()``."""
        if self._symbolic is None:
            start = time.perf_counter()
            sym = self._build()
            sym.seconds = time.perf_counter() - start
            self._symbolic = sym
        return self._symbolic

    @property
    def latex(self) -> dict[str, str]:
        """LaTeX equations keyed ``forward``, ``derivative``, ``closed_form`` (no ``$$``)."""
        return self.symbolic.latex

    @property
    def forward(self) -> str:
        """LaTeX of the forward pass."""
        return self.latex["forward"]

    @property
    def derivative(self) -> str:
        """LaTeX of SymPy's own derivative."""
        return self.latex["derivative"]

    @property
    def closed_form(self) -> str:
        """LaTeX of the closed form nnref implements."""
        return self.latex["closed_form"]

    # -- numeric side --
    def run(self, *, cache: bool = True) -> Result:
        """Prove and check; ``cache=False`` re-runs the numeric check (the proofs stay memoised).

        Use ``cache=False`` after changing nnref code in the same process, for
        example to show that a planted wrong backward is caught.
        """
        if cache and self._result is not None:
            return self._result
        sym = self.symbolic
        start = time.perf_counter()
        checker = Checker(self.name, self.tolerance)
        try:
            from nnref.repro import book_mode_active

            if book_mode_active():
                # nnfs.init()'s patch makes np.dot return float32: float64 tolerances cannot hold
                raise RuntimeError("run inside nnref.book_mode(); the checks need numpy unpatched (float64)")
            self._check(sym, checker)
        except Exception as exc:  # a crash in nnref is a failed check, reported, not raised
            checker._worst[("error", "exception")] = Comparison(
                f"raised {type(exc).__name__}: {exc}", float("inf"), self.tolerance, "error")
        comparisons = checker.comparisons
        proved = all(p.ok for p in sym.proofs)
        max_error = max((c.error for c in comparisons), default=float("inf"))
        passed = proved and bool(comparisons) and all(c.passed for c in comparisons)
        result = Result(
            name=self.name,
            chapter=self.chapter,
            proved=proved,
            max_error=max_error,
            tolerance=self.tolerance,
            passed=passed,
            proofs=tuple(sym.proofs),
            comparisons=comparisons,
            notes=tuple(checker.notes),
            seconds=time.perf_counter() - start,
        )
        if cache:
            self._result = result
        return result

    def __repr__(self) -> str:
        return f"<Derivation {self.name!r}: {self.title} (chapter {self.chapter})>"


#: Every derivation by name, in chapter order once :mod:`derivations` is imported.
REGISTRY: dict[str, Derivation] = {}


def register(name: str, **kwargs: Any) -> Callable[[Callable[[Checker], None]], Derivation]:
    """Decorator for a topic module: ``@register(name, build=..., ...)`` on the check function."""

    def wrap(check: Callable[[Symbolic, Checker], None]) -> Derivation:
        if name in REGISTRY:
            raise ValueError(f"derivations: the name {name!r} is registered twice")
        deriv = Derivation(name, check=check, **kwargs)
        REGISTRY[name] = deriv
        return deriv

    return wrap


def lambdify(args: list[Any], expr: Any) -> Callable[..., np.ndarray]:
    """A float64 numpy function of SymPy matrices/symbols, returning ``expr``'s shape.

    Matrix arguments take arrays of the matrix's shape. Scalar-symbol
    arguments take scalars or arrays, which broadcast (so an element-wise
    derivative applies to a whole batch). Constant entries are broadcast too.
    """
    import sympy as sp

    flat: list[Any] = []
    for a in args:
        flat.extend(list(a) if isinstance(a, sp.MatrixBase) else [a])
    is_matrix = isinstance(expr, sp.MatrixBase)
    exprs = list(expr) if is_matrix else [expr]
    f = sp.lambdify(flat, exprs, "numpy")
    out_shape = expr.shape if is_matrix else ()

    def call(*values: Any) -> np.ndarray:
        if len(values) != len(args):
            raise TypeError(f"lambdified function: expected {len(args)} arguments, got {len(values)}")
        flat_values: list[Any] = []
        for a, v in zip(args, values):
            v = np.asarray(v, dtype=np.float64)
            if isinstance(a, sp.MatrixBase):
                if v.shape != a.shape:
                    raise ValueError(f"lambdified function: expected shape {a.shape}, got {v.shape}")
                flat_values.extend(v.ravel())
            else:
                flat_values.append(v)
        with np.errstate(all="ignore"):
            res = [np.asarray(r, dtype=np.float64) for r in f(*flat_values)]
        common = np.broadcast_shapes(*(r.shape for r in res))
        stacked = np.stack([np.broadcast_to(r, common) for r in res])
        return stacked.reshape(out_shape + common) if is_matrix else stacked[0]

    return call

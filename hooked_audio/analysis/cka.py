"""Linear centered kernel alignment (CKA, Kornblith et al. 2019) between two sets of activations
of the same samples: `x [n, d1]`, `y [n, d2]`, row `i` of both from the same sample (here: the
same 20 ms frame of the same clip).

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),   K = x xᵀ, L = y yᵀ (linear kernels)

Two estimators of HSIC:

- `debiased=True` (the default): the unbiased estimator of Song et al. (2012), as Nguyen et al.
  (2021) use it for "debiased CKA". On `K~`, `L~` (the Gram matrices with their diagonals set to
  zero) it is
      [tr(K~L~) + (1ᵀK~1)(1ᵀL~1) / ((n-1)(n-2)) - 2/(n-2) 1ᵀK~L~1] / (n(n-3)).
- `debiased=False`: the plug-in estimator `tr(K H L H) / (n-1)²` (`H = I - 11ᵀ/n` centres),
  Kornblith et al.'s linear CKA, bounded in [0, 1].

Why debiased by default: frames are many but not many more than the width (a 10 s clip is 500
frames, tiny.en is 384 wide, large 1280), and the plug-in estimator is biased upwards when `n`
is not much larger than `d`: two *independent* Gaussian matrices `[n, d]` get plug-in CKA about
`d / (n + d)` (0.43 for 500 frames of width 384), so unrelated layers look similar.
The debiased estimate of such a pair is near 0 (tests/analysis/test_cka.py checks both). It
can be slightly negative, and it needs `n >= 4`. Both are invariant to orthogonal transforms
and isotropic scaling of either side, and equal 1 for `CKA(x, x)`.

Everything is computed in feature space (`xᵀy` is `[d1, d2]`), never as `n x n` Gram matrices,
so many clips' frames fit: the cost is `O(n d1 d2)` per pair, in float64.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def check_activations(
    x: Float[Tensor, "n d"], what: str, min_samples: int = 2
) -> Float[Tensor, "n d"]:
    """`x` as a float64 `[n_samples, d]` tensor; a ValueError for another shape, too few samples
    or a non-finite value."""
    x = torch.as_tensor(x)
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(
            f"{what} must be a [n_samples, d] matrix (one row per frame), got shape "
            f"{tuple(x.shape)}; flatten batch and position first, e.g. acts.reshape(-1, d)."
        )
    if x.shape[0] < min_samples:
        raise ValueError(
            f"{what} has {x.shape[0]} samples; this estimator needs at least {min_samples}."
        )
    x = x.detach().to(torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(
            f"{what} holds NaN or infinite values; compute the activations of a finite run."
        )
    return x


def linear_cka(x: Float[Tensor, "n d1"], y: Float[Tensor, "n d2"], debiased: bool = True) -> float:
    """Linear CKA between `x` and `y`, whose row `i` is the same sample (module docstring)."""
    minimum = 4 if debiased else 2
    x, y = check_activations(x, "x", minimum), check_activations(y, "y", minimum)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x has {x.shape[0]} samples and y {y.shape[0]}: CKA compares two representations "
            "of the same samples, row i of both from the same frame; align the frames first "
            "(hooked_audio.analysis.aligned_activations does it for two models)."
        )
    terms_x, terms_y = SelfTerms.of(x, debiased), SelfTerms.of(y, debiased)
    return cka_from_terms(terms_x, terms_y, debiased, "x", "y")


class SelfTerms:
    """What the HSIC of one matrix with itself and with others needs, computed once: the
    centred matrix (plug-in), or the row norms, row sums and `x @ sum` (debiased)."""

    def __init__(self, x: Float[Tensor, "n d"], debiased: bool):
        self.debiased = debiased
        # The debiased estimator is invariant to a shift of x (a shift of x changes K~ by
        # terms its U-statistic cancels); centring first keeps the float64 sums small.
        self.x = x - x.mean(dim=0, keepdim=True)
        if debiased:
            self.norms = (self.x * self.x).sum(dim=1)  # diag(K)
            column_sum = self.x.sum(dim=0)
            self.row_sums = self.x @ column_sum - self.norms  # K~ 1
            self.total = float(column_sum @ column_sum - self.norms.sum())  # 1ᵀ K~ 1
        self.hsic_self = hsic(self, self)

    @classmethod
    def of(cls, x: Float[Tensor, "n d"], debiased: bool) -> SelfTerms:
        return cls(x, debiased)


def hsic(a: SelfTerms, b: SelfTerms) -> float:
    """HSIC of the linear kernels of `a.x` and `b.x` by the estimator `a` was built for."""
    n = a.x.shape[0]
    cross = float((a.x.T @ b.x).square().sum())  # ||xᵀy||² = tr(K L)
    if not a.debiased:
        return cross / (n - 1) ** 2  # x is centred, so tr(K L) = tr(K H L H)
    trace = cross - float(a.norms @ b.norms)  # tr(K~ L~)
    return (
        trace
        + a.total * b.total / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * float(a.row_sums @ b.row_sums)
    ) / (n * (n - 3))


def cka_from_terms(a: SelfTerms, b: SelfTerms, debiased: bool, name_a: str, name_b: str) -> float:
    """CKA from precomputed self terms; a ValueError where it is undefined (a constant side)."""
    for terms, name in ((a, name_a), (b, name_b)):
        if not terms.hsic_self > 0:
            raise ValueError(
                f"{name} has no variance across samples (its HSIC with itself is "
                f"{terms.hsic_self:.3g}{' with the debiased estimator' if debiased else ''}), "
                "so CKA is undefined: every frame has the same activation, or there are too "
                "few frames."
            )
    return hsic(a, b) / (a.hsic_self * b.hsic_self) ** 0.5

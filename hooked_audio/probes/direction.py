"""A fitted probe's direction in the MODEL's activation coordinates (the store's features),
for steering: adding `alpha * direction` to the hook's activations moves them towards a class.

The probe is `StandardScaler` then `LogisticRegression`, so its logit for class `k` is
`w_k . (x - mean) / scale + b_k`: in the model's coordinates the weight is `w_k / scale`
(the scaler's standardisation undone), and that is the logit's gradient with respect to the
activation. Sign convention: the direction points TOWARDS `towards` (default: the positive
class, the probe's `classes_[1]` for two classes; "speech" for speech vs non-speech), so
moving an activation along it raises that class's probability.

With more than two classes (multinomial), class `k`'s logit is only defined up to a vector
shared by all classes; the direction is `w_k - mean_j w_j` (the identified part), which raises
class `k`'s logit against the average of the others."""

from __future__ import annotations

import numpy as np
import torch


def probe_direction(probe, towards: str | None = None, unit: bool = True) -> torch.Tensor:
    """`[features]` float32: the direction of `probe` (a fitted StandardScaler +
    LogisticRegression pipeline) towards class `towards`, unit length (`unit=False`: the
    logit's gradient, in logit per unit of activation, so `delta / norm` moves the logit by
    `delta`)."""
    scaler, logistic = probe[0], probe[-1]
    classes = [str(c) for c in logistic.classes_]
    if towards is None:
        if len(classes) != 2:
            raise ValueError(
                f"This probe has {len(classes)} classes {classes}: name the class the "
                "direction points towards (towards=...)."
            )
        towards = classes[1]
    if towards not in classes:
        raise ValueError(f"towards={towards!r} is not one of the probe's classes {classes}.")
    coef = np.asarray(logistic.coef_, dtype=np.float64)
    if len(classes) == 2:
        weight = coef[0] if towards == classes[1] else -coef[0]
    else:
        k = classes.index(towards)
        weight = coef[k] - coef.mean(axis=0)
    gradient = weight / np.asarray(scaler.scale_, dtype=np.float64)
    if unit:
        gradient = unit_length(
            gradient,
            f"The probe's weights towards {towards!r} are all zero: it found no direction "
            "(the classes are not linearly told apart here, or C is too small).",
        )
    return torch.as_tensor(gradient, dtype=torch.float32)


def unit_length(vector: np.ndarray, if_zero: str) -> np.ndarray:
    """`vector` scaled to length 1; a ValueError saying `if_zero` when it is all zeros."""
    norm = np.linalg.norm(vector)
    if norm == 0:
        raise ValueError(if_zero)
    return vector / norm

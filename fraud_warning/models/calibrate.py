"""Calibration: a LightGBM margin turned into a probability of fraud, fitted in numpy.

Fitted on rows the trees never saw (the validation slice), so the probability means
"of rows scored this high, about this share were fraud". Platt scaling (a logistic curve
on the margin) is the default: two numbers, strictly increasing, so ranking and AUC are
unchanged. Isotonic (pool-adjacent-violators) follows any monotone shape but needs more
positives and creates ties; it is interpolated linearly between its steps.

>>> import numpy as np
>>> c = Calibration.platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
>>> bool(c.apply(np.array([3.0]))[0] > c.apply(np.array([0.0]))[0])
True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

Array = npt.NDArray[np.float64]
Method = Literal["platt", "isotonic"]


def _sigmoid(z: Array) -> Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)  # no overflow


class Calibration(BaseModel):
    """Stored in the card; `apply` maps margins to probabilities in [0, 1]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method
    a: float = Field(default=1.0, allow_inf_nan=False)  # platt: p = sigmoid(a * margin + b)
    b: float = Field(default=0.0, allow_inf_nan=False)
    x: list[float] = Field(default_factory=list)  # isotonic: margins (increasing) ...
    y: list[float] = Field(default_factory=list)  # ... and probabilities (non-decreasing)

    @model_validator(mode="after")
    def _shape(self) -> Calibration:
        if self.method == "isotonic":
            if len(self.x) < 1 or len(self.x) != len(self.y):
                raise ValueError("isotonic calibration needs x and y of the same length >= 1")
            if any(b < a for a, b in zip(self.x, self.x[1:], strict=False)):
                raise ValueError("isotonic x must be increasing")
            if any(not 0.0 <= v <= 1.0 for v in self.y):
                raise ValueError("isotonic y must lie in [0, 1]")
        elif self.a <= 0:
            raise ValueError("platt slope 'a' must be > 0 (high margin = fraud)")
        return self

    def to_card(self) -> dict[str, object]:
        """Only the numbers this method uses (no empty isotonic lists on a Platt card)."""
        if self.method == "platt":
            return {"method": "platt", "a": self.a, "b": self.b}
        return {"method": "isotonic", "x": self.x, "y": self.y}

    def apply(self, margin: Array) -> Array:
        m = np.asarray(margin, dtype=np.float64)
        if self.method == "platt":
            return _sigmoid(self.a * m + self.b)
        return np.asarray(np.interp(m, self.x, self.y), dtype=np.float64)

    @classmethod
    def fit(cls, method: Method, margin: Array, y: npt.ArrayLike) -> Calibration:
        if method == "platt":
            return cls.platt(margin, y)
        return cls.isotonic(margin, y)

    @classmethod
    def platt(cls, margin: Array, y: npt.ArrayLike, iterations: int = 100) -> Calibration:
        """Newton's method on the log loss, with Platt's smoothed targets (no 0/1 targets,
        so a separable validation set still gives a finite slope)."""
        m = np.asarray(margin, dtype=np.float64)
        labels = np.asarray(y, dtype=np.float64)
        pos = labels.sum()
        neg = labels.size - pos
        target = np.where(labels > 0, (pos + 1) / (pos + 2), 1 / (neg + 2))
        a, b = 1.0, float(np.log((pos + 1) / (neg + 1)))

        def loss(a: float, b: float) -> float:
            z = a * m + b
            # log(1 + e^z) - t z, written so that large |z| does not overflow
            return float(np.sum(np.logaddexp(0.0, z) - target * z))

        current = loss(a, b)
        for _ in range(iterations):
            p = _sigmoid(a * m + b)
            w = np.maximum(p * (1 - p), 1e-12)
            g = np.array([np.sum((p - target) * m), np.sum(p - target)])
            h = np.array([[np.sum(w * m * m), np.sum(w * m)], [np.sum(w * m), np.sum(w)]])
            step = np.linalg.solve(h + np.eye(2) * 1e-9, g)
            # backtracking: a full Newton step can overshoot on nearly separable rows
            t = 1.0
            while t > 1e-8:
                a_new, b_new = a - t * float(step[0]), b - t * float(step[1])
                trial = loss(a_new, b_new)
                if trial <= current:
                    break
                t /= 2
            else:
                break
            a, b = a_new, b_new
            done = current - trial < 1e-12 * max(1.0, abs(current))
            current = trial
            if done:
                break
        # a non-positive slope means the margin carries no signal here: keep the ranking
        return cls(method="platt", a=max(a, 1e-6), b=b)

    @classmethod
    def isotonic(cls, margin: Array, y: npt.ArrayLike) -> Calibration:
        m = np.asarray(margin, dtype=np.float64)
        labels = np.asarray(y, dtype=np.float64)
        order = np.argsort(m, kind="mergesort")
        xs, ys = m[order], labels[order]
        # blocks of (sum of labels, count, first x, last x), merged while they decrease
        blocks: list[list[float]] = []
        for x, v in zip(xs.tolist(), ys.tolist(), strict=True):
            blocks.append([v, 1.0, x, x])
            while len(blocks) > 1 and (
                blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]
                or blocks[-2][3] == blocks[-1][2]  # equal margins must share one value
            ):
                s, n, _, hi = blocks.pop()
                blocks[-1][0] += s
                blocks[-1][1] += n
                blocks[-1][3] = hi
        x_out: list[float] = []
        y_out: list[float] = []
        for s, n, lo, hi in blocks:
            x_out.extend([lo, hi] if hi > lo else [lo])
            y_out.extend([s / n] * (2 if hi > lo else 1))
        return cls(method="isotonic", x=x_out, y=y_out)


__all__ = ["Calibration", "Method"]

"""The training budget: environment samples and/or wall-clock minutes, and the evaluation
interval — one model used by the trainer, the CLI and the experiment specs alike."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Budget(BaseModel):
    """Stop at ``steps`` environment samples or ``max_minutes`` of wall time, whichever comes
    first; evaluate every ``eval_every_steps`` samples (and once at the end)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    steps: Annotated[int, Field(ge=1)] | None = None
    max_minutes: Annotated[float, Field(gt=0.0)] | None = None
    eval_every_steps: Annotated[int, Field(ge=1)] = 10_000

    @model_validator(mode="after")
    def _some(self) -> Budget:
        if self.steps is None and self.max_minutes is None:
            raise ValueError("steps: give steps, max_minutes or both")
        return self

    def progress(self, step: int, elapsed_s: float) -> float:
        """Training progress in [0, 1]: the larger of the sample and the time fraction."""
        p = 0.0
        if self.steps:
            p = max(p, step / self.steps)
        if self.max_minutes:
            p = max(p, elapsed_s / (60.0 * self.max_minutes))
        return min(p, 1.0)

    def done(self, step: int, elapsed_s: float) -> bool:
        if self.steps is not None and step >= self.steps:
            return True
        return self.max_minutes is not None and elapsed_s >= 60.0 * self.max_minutes

"""How a training step weighs its losses (H4), and each auxiliary target's measured affinity with the primary task.

`fixed` (the paper): the trial's loss weights, fixed before training.  The others start from the
trial's primary weight and change while it trains:

- `uncertainty` (Kendall et al. 2018): a learned log-variance s_t per task, loss sum_t exp(-s_t) r_t + s_t,
  on each loss relative to its first step's value r_t = L_t / L_t(0), so that tasks in different units
  compare; the auxiliary targets start with equal shares of 1 - primary weight.
- `gating` (Du et al. 2018): auxiliary target t's loss counts in proportion to the positive part of
  the cosine between its gradient and the primary loss's gradient, both taken on the representation
  that its head and HAN-ROCK's fusion share (its talkturn vector v_aux[t]); one extra backward pass
  through the heads and the fusion, never through the encoders.
- `lookahead`: a first-order form of Auto-Lambda's one-step lookahead.  Every LOOKAHEAD_EVERY steps the
  primary loss of a held-out dev batch is differentiated with respect to each target's own auxiliary
  talkturn encoder (the parameters that only that target and the primary loss train), its cosine
  with that target's train-loss gradient c_t estimates how one step on target t changes the held-out
  primary loss, and the auxiliary weights take an exponentiated-gradient step w_t <- w_t exp(eta c_t),
  renormalised to their starting sum.  The second-order term is dropped (as Auto-Lambda's and DARTS's
  first-order variants do), so its cost is a dev forward pass and two partial backward passes every
  LOOKAHEAD_EVERY steps.
- `auto`: the fixed weights, and after AUTO_WARMUP_EPOCHS epochs every target whose measured affinity
  (below) is not positive (its mean less than AFFINITY_Z standard errors above 0, one-sided 95%)
  gets weight 0 for the rest of the run: the targets kept are chosen on train batches, never on test.

Affinity: the cosine of gating, averaged over the run (every AFFINITY_EVERY steps, every step for
`gating`): a target whose pull on its shared representation agrees with the primary task's has a
positive affinity; a target unrelated to the primary task (a pure-noise column) about 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F

from hanrock_core.base.errors import InputError

AFFINITY_EVERY = 4  # steps between two affinity measurements (gating measures every step)
LOOKAHEAD_EVERY = 5  # steps between two held-out updates of `lookahead`
LOOKAHEAD_RATE = 0.05  # eta of the exponentiated-gradient step
AUTO_WARMUP_EPOCHS = 2  # epochs of measured affinity before `auto` drops targets
AFFINITY_Z = 1.645  # `auto` keeps a target when its mean affinity is this many standard errors above 0
LEARNED_WEIGHT_RATE = 0.05  # Adam's rate for `uncertainty`'s log-variances: they settle within an epoch


def representation_cosines(aux_input: torch.Tensor, per_task: torch.Tensor) -> torch.Tensor:
    """(N,) cosine, per auxiliary target t, of the gradients of the primary loss and of L_t on v_aux[t].

    aux_input: (N, B, d), the talkturn vectors the auxiliary heads and the fusion both read; L_t
    reaches only v_aux[t] (its own head), so one backward pass of sum_t L_t gives every target's."""
    (primary,) = torch.autograd.grad(per_task[0], aux_input, retain_graph=True, allow_unused=True)
    (auxiliary,) = torch.autograd.grad(per_task[1:].sum(), aux_input, retain_graph=True)
    if primary is None:  # the primary loss does not read v_aux (no fusion): no shared direction
        return torch.zeros(aux_input.shape[0], device=aux_input.device)
    return F.cosine_similarity(primary.flatten(1), auxiliary.flatten(1), dim=1, eps=1e-12)  # (N,)


class Weighting:
    """`fixed`: the trial's weights, as in the paper; measures affinity on the side."""

    name = "fixed"

    def __init__(self, weights: torch.Tensor, model=None):
        """`weights`: the trial's (1 + N,) loss weights; `model`: the HierarchicalModel being trained
        (a weighting that reads its parameters keeps it)."""
        self.weights = weights  # (1 + N,) on the device
        n = len(weights) - 1
        self.affinity_sum = torch.zeros(n, dtype=torch.float64)
        self.affinity_squares = torch.zeros(n, dtype=torch.float64)
        self.affinity_count = 0
        self.step = 0
        self.measures = bool(n) and bool(weights[1:].sum() > 0)  # a model trained on the primary alone measures none

    def parameters(self) -> list[torch.nn.Parameter]:
        """Parameters the optimiser also trains (none here)."""
        return []

    def learning_rate(self) -> float | None:
        """Their own learning rate (None: the schedule's)."""
        return None

    def _measure(self, out, per_task: torch.Tensor, every: int) -> torch.Tensor | None:
        """The step's cosines when this step measures them (every `every` steps), added to the affinity."""
        if not self.measures or out.aux_input is None or len(per_task) < 2 or self.step % every:
            return None
        cosines = representation_cosines(out.aux_input, per_task).detach()
        self.affinity_sum += cosines.double().cpu()
        self.affinity_squares += cosines.double().cpu() ** 2
        self.affinity_count += 1
        return cosines

    def loss(self, out, per_task: torch.Tensor, heldout: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
        """The step's loss from its per-task losses (1 + N,)."""
        self._measure(out, per_task, AFFINITY_EVERY)
        self.step += 1
        return (self.current_weights()[: len(per_task)] * per_task).sum()

    def current_weights(self) -> torch.Tensor:
        """(1 + N,) the weights the next step's losses get."""
        return self.weights

    def epoch_end(self, epoch: int) -> None:
        """Called after each epoch."""

    def affinity(self) -> np.ndarray:
        """(N,) the mean measured cosine per auxiliary target (NaN when never measured)."""
        if not self.affinity_count:
            return np.full(len(self.affinity_sum), np.nan)
        return (self.affinity_sum / self.affinity_count).numpy()

    def affinity_lower_bound(self) -> np.ndarray:
        """(N,) mean cosine minus AFFINITY_Z standard errors over the measured steps: above 0, the target's
        agreement with the primary task is more than step-to-step noise (a pure-noise target's mean is 0)."""
        n = max(self.affinity_count, 1)
        mean = self.affinity_sum / n
        var = (self.affinity_squares / n - mean**2).clamp(min=0) * n / max(n - 1, 1)
        return (mean - AFFINITY_Z * (var / n).sqrt()).numpy()

    def summary(self, names: tuple[str, ...]) -> dict:
        """What the trial records: the final weights and each target's affinity."""
        weights = self.current_weights().detach().cpu().numpy()
        out = {"weighting": self.name, "final_weights": dict(zip(["primary", *names], map(float, weights)))}
        if len(names) and self.measures:
            out["affinity"] = dict(zip(names, map(float, self.affinity())))
        return out


class Uncertainty(Weighting):
    """Kendall et al.'s learned log-variance per task, on losses relative to their first step's value."""

    name = "uncertainty"

    def __init__(self, weights: torch.Tensor, model=None):
        super().__init__(weights, model)
        n = len(weights) - 1
        start = torch.empty_like(weights)
        start[0] = weights[0]
        start[1:] = (1 - weights[0]) / max(n, 1)  # equal shares: the learning decides
        self.log_variance = torch.nn.Parameter(-torch.log(start.clamp(min=1e-6)))  # exp(-s) = starting weight
        self.first: torch.Tensor | None = None  # (1 + N,) each loss at the first step

    def parameters(self) -> list[torch.nn.Parameter]:
        return [self.log_variance]

    def learning_rate(self) -> float | None:
        return LEARNED_WEIGHT_RATE

    def loss(self, out, per_task, heldout=None):
        self._measure(out, per_task, AFFINITY_EVERY)
        self.step += 1
        if self.first is None:
            self.first = per_task.detach().clamp(min=1e-6)
        relative = per_task / self.first  # (1 + N,)
        s = self.log_variance[: len(per_task)]
        return (torch.exp(-s) * relative + s).sum()

    def current_weights(self):
        """exp(-s_t): the weight on each relative loss."""
        return torch.exp(-self.log_variance.detach())


class Gating(Weighting):
    """Du et al.'s gradient-similarity gating at the shared representation."""

    name = "gating"

    def __init__(self, weights: torch.Tensor, model=None):
        super().__init__(weights, model)
        self.gates = torch.ones_like(weights)  # (1 + N,): the primary's is always 1
        self.gate_sum = torch.zeros(len(weights) - 1, dtype=torch.float64)  # (N,) over the gated steps

    def loss(self, out, per_task, heldout=None):
        cosines = self._measure(out, per_task, 1)
        self.step += 1
        if cosines is not None:
            self.gates = torch.cat([self.gates[:1], cosines.clamp(min=0)])
            self.gate_sum += self.gates[1:].double().cpu()
        return (self.weights * self.gates[: len(per_task)] * per_task).sum()

    def current_weights(self):
        return self.weights * self.gates

    def summary(self, names):
        """Also each target's mean gate over the run (the last step's gate alone is one step's noise)."""
        out = super().summary(names)
        if self.affinity_count:
            out["mean_gates"] = dict(zip(names, map(float, self.gate_sum / self.affinity_count)))
        return out


class Lookahead(Weighting):
    """First-order one-step lookahead on a held-out primary loss, per target's own auxiliary encoder."""

    name = "lookahead"

    def __init__(self, weights: torch.Tensor, model=None):
        super().__init__(weights, model)
        own_parameters: Callable[[], list[torch.Tensor]] = model.aux_talkturn_parameters
        self.current = weights.clone()
        self.budget = float(weights[1:].sum())
        self.own_parameters = own_parameters  # the auxiliary talkturn encoder's parameters, group-major

    def loss(self, out, per_task, heldout=None):
        self._measure(out, per_task, AFFINITY_EVERY)
        if heldout is not None and len(per_task) > 1 and self.step % LOOKAHEAD_EVERY == 0:
            self._update(per_task, heldout)
        self.step += 1
        return (self.current * per_task).sum()

    def _update(self, per_task: torch.Tensor, heldout: Callable[[], torch.Tensor]) -> None:
        """w_t <- w_t exp(eta c_t), c_t the cosine of the held-out primary and train target-t gradients."""
        params = self.own_parameters()
        train = torch.autograd.grad(per_task[1:].sum(), params, retain_graph=True, allow_unused=True)
        held = torch.autograd.grad(heldout(), params, allow_unused=True)
        n = len(per_task) - 1
        cosines = F.cosine_similarity(_per_group(train, n), _per_group(held, n), dim=1, eps=1e-12)  # (N,)
        with torch.no_grad():
            aux = self.current[1:] * torch.exp(LOOKAHEAD_RATE * cosines)
            self.current[1:] = aux * self.budget / aux.sum().clamp(min=1e-12)

    def current_weights(self):
        return self.current


def _per_group(grads: tuple, n: int) -> torch.Tensor:
    """(N, k): each target's slice of the grouped encoder's gradients (2N-group GRU weights: forward
    then backward directions; N-group projection and context), flattened."""
    parts = []
    for g in grads:
        if g is None:
            continue
        if g.shape[0] == 2 * n:
            parts.append(torch.cat([g[:n].flatten(1), g[n:].flatten(1)], dim=1))
        else:
            parts.append(g.flatten(1))
    return torch.cat(parts, dim=1)


class Auto(Weighting):
    """The fixed weights; after AUTO_WARMUP_EPOCHS epochs, targets without positive affinity get weight 0."""

    name = "auto"

    def __init__(self, weights: torch.Tensor, model=None):
        super().__init__(weights, model)
        self.kept: np.ndarray | None = None  # (N,) bool, once decided

    def loss(self, out, per_task, heldout=None):
        every = 1 if self.kept is None else AFFINITY_EVERY  # the warm-up measures every step
        self._measure(out, per_task, every)
        self.step += 1
        return (self.weights[: len(per_task)] * per_task).sum()

    def epoch_end(self, epoch: int) -> None:
        if self.kept is None and epoch >= AUTO_WARMUP_EPOCHS and self.affinity_count:
            self.kept = self.affinity_lower_bound() > 0
            mask = torch.cat([torch.ones(1), torch.as_tensor(self.kept, dtype=torch.float32)])
            self.weights = self.weights * mask.to(self.weights.device)

    def summary(self, names):
        out = super().summary(names)
        if self.kept is not None:
            out["kept_targets"] = [n for n, k in zip(names, self.kept) if k]
        return out


# name -> class of every weighting (the name is the class's `name`): the one list that H4's conditions
# (study/hypotheses.py), TrainConfig's check, `hanrock bench` and the docs read; a new weighting is one
# subclass of Weighting and one entry here
WEIGHTINGS: dict[str, type[Weighting]] = {cls.name: cls for cls in (Weighting, Uncertainty, Gating, Lookahead, Auto)}


def make_weighting(name: str | Weighting, weights: torch.Tensor, model) -> Weighting:
    """The weighting `name` of a run whose trial weights are `weights` (1 + N,); an instance is used as it is."""
    if isinstance(name, Weighting):
        return name
    if name not in WEIGHTINGS:
        raise InputError(f"weighting {name!r} is not one of {list(WEIGHTINGS)}")
    adaptive = name != "fixed"
    if adaptive and len(weights) > 1 and not getattr(model, "rock", False):
        raise InputError(
            f"the {name!r} weighting reads HAN-ROCK's auxiliary talkturn vectors; this model has none",
            hint="use it with architecture han_rock and A >= 1 auxiliary units",
        )
    return WEIGHTINGS[name](weights, model)


__all__ = ["AFFINITY_EVERY", "WEIGHTINGS", "Weighting", "make_weighting", "representation_cosines"]

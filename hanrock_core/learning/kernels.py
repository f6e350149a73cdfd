"""Hand-written forward and backward passes for the two hot spots of the hierarchical model.

Both compute exactly what the plain PyTorch modules compute (tests compare them); they exist
for speed on CPUs:

- `gru_recurrence`: D independent GRUs (directions, tasks) stepped together with one batched
  matrix product per step; the input projections are computed outside, so a talkturn that
  appears in many content-context windows is projected once.  Backward is hand-written BPTT
  with the weight gradients accumulated in one matrix product at the end.
- `project_attend`: relu(h W + b) -> softmax(u . c) -> sum(alpha u) for G groups (tasks),
  computed group by group without keeping the (G, S, T, d_out) activations, which would be
  written and read several times by autograd.
"""

from __future__ import annotations

import warnings

import torch


class _GRURecurrence(torch.autograd.Function):
    """h_t = GRU(h_{t-1}) given precomputed input gates, PyTorch's gate order (r, z, n)."""

    @staticmethod
    def forward(ctx, gates_x: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
        # gates_x: (D, S, T, 3H) = W_ih x + b_ih, w_hh: (D, 3H, H), b_hh: (D, 3H) -> h: (D, S, T, H)
        D, S, T, H3 = gates_x.shape
        H = H3 // 3
        w_t = w_hh.transpose(1, 2)  # (D, H, 3H)
        bias = b_hh.unsqueeze(1)  # (D, 1, 3H)
        h = gates_x.new_zeros(D, S, H)
        steps: list[tuple[torch.Tensor, ...]] = []
        for t in range(T):
            gh = torch.baddbmm(bias, h, w_t)  # (D, S, 3H)
            xr, xz, xn = gates_x[:, :, t].split(H, dim=-1)
            hr, hz, hn = gh.split(H, dim=-1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = n + z * (h - n)  # (1 - z) n + z h
            steps.append((h, r, z, n, hn))
        hs, r_all, z_all, n_all, hn_all = (torch.stack(parts, dim=2) for parts in zip(*steps))  # each (D, S, T, H)
        ctx.save_for_backward(w_hh, hs, r_all, z_all, n_all, hn_all)
        return hs

    @staticmethod
    def backward(ctx, grad_hs: torch.Tensor):
        w_hh, hs, r_all, z_all, n_all, hn_all = ctx.saved_tensors
        D, S, T, H = hs.shape
        grad_gx: list[torch.Tensor] = [None] * T
        grad_gh: list[torch.Tensor] = [None] * T
        dh_next = hs.new_zeros(D, S, H)
        zero = hs.new_zeros(D, S, H)
        for t in range(T - 1, -1, -1):
            h_prev = hs[:, :, t - 1] if t > 0 else zero
            r, z, n, hn = r_all[:, :, t], z_all[:, :, t], n_all[:, :, t], hn_all[:, :, t]
            dh = grad_hs[:, :, t] + dh_next
            dn = dh * (1 - z) * (1 - n * n)  # through tanh
            dz = dh * (h_prev - n) * z * (1 - z)  # through sigmoid
            dr = dn * hn * r * (1 - r)
            grad_gx[t] = torch.cat([dr, dz, dn], dim=-1)  # (D, S, 3H)
            grad_gh[t] = torch.cat([dr, dz, dn * r], dim=-1)
            dh_next = torch.baddbmm(dh * z, grad_gh[t], w_hh)  # (D, S, H)
        grad_gx = torch.stack(grad_gx, dim=2)  # (D, S, T, 3H)
        grad_gh = torch.stack(grad_gh, dim=2)
        h_prev_all = torch.cat([hs.new_zeros(D, S, 1, H), hs[:, :, :-1]], dim=2)
        grad_w = torch.bmm(grad_gh.reshape(D, S * T, 3 * H).transpose(1, 2), h_prev_all.reshape(D, S * T, H))
        return grad_gx, grad_w, grad_gh.sum(dim=(1, 2))


def gru_recurrence(gates_x: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """Hidden states (D, S, T, H) of D GRUs over right-padded steps (outputs past a length are padding)."""
    return _GRURecurrence.apply(gates_x, w_hh, b_hh)


class _ProjectAttend(torch.autograd.Function):
    """v = sum_t alpha_t u_t, alpha = softmax_t(u_t . c), u = relu(h W + b), group by group."""

    @staticmethod
    def forward(ctx, h, weight, bias, context, mask):
        # h: (G, S, T, k), weight: (G, k, o), bias: (G, o), context: (G, o), mask: (S, T)
        # -> v (G, S, o), alpha (G, S, T)
        G, S, T, _ = h.shape
        v = h.new_empty(G, S, weight.shape[-1])
        alpha = h.new_empty(G, S, T)
        for g in range(G):
            pre = torch.matmul(h[g], weight[g]) + bias[g]  # (S, T, o)
            u = torch.relu(pre)
            scores = torch.matmul(u, context[g]).masked_fill(~mask, -1e9)  # (S, T)
            alpha[g] = torch.softmax(scores, dim=-1)
            v[g] = torch.bmm(alpha[g].unsqueeze(1), u).squeeze(1)
        # one group keeps its pre-activations; many groups recompute theirs in backward (less memory traffic)
        ctx.pre = pre if G == 1 else None
        ctx.save_for_backward(h, weight, bias, context, alpha)
        ctx.mark_non_differentiable(alpha)
        return v, alpha

    @staticmethod
    def backward(ctx, grad_v, _grad_alpha):
        h, weight, bias, context, alpha = ctx.saved_tensors
        G, k = h.shape[0], h.shape[-1]
        grads = [torch.empty_like(x) for x in (h, weight, bias, context)]
        for g in range(G):
            pre = ctx.pre if ctx.pre is not None else torch.matmul(h[g], weight[g]) + bias[g]  # (S, T, o)
            u = torch.relu(pre)
            a = alpha[g]  # (S, T)
            dv = grad_v[g]  # (S, o)
            d_alpha = torch.bmm(u, dv.unsqueeze(-1)).squeeze(-1)  # (S, T)
            d_scores = a * (d_alpha - (a * d_alpha).sum(-1, keepdim=True))  # softmax backward; masked steps get 0
            grads[3][g] = torch.matmul(d_scores.reshape(1, -1), u.reshape(-1, u.shape[-1]))[0]
            d_pre = (a.unsqueeze(-1) * dv.unsqueeze(1) + d_scores.unsqueeze(-1) * context[g]) * (pre > 0)  # (S, T, o)
            flat = d_pre.reshape(-1, d_pre.shape[-1])
            grads[0][g] = torch.matmul(d_pre, weight[g].T)
            grads[1][g] = h[g].reshape(-1, k).T @ flat
            grads[2][g] = flat.sum(dim=0)
        return grads[0], grads[1], grads[2], grads[3], None


def _project_attend_formula(h, weight, bias, context, mask):
    """The same computation written plainly, for torch.compile to fuse into a few loops."""
    u = torch.relu(torch.einsum("gstk,gko->gsto", h, weight) + bias[:, None, None])
    scores = torch.einsum("gsto,go->gst", u, context).masked_fill(~mask, -1e9)
    alpha = torch.softmax(scores, dim=-1)
    return torch.einsum("gst,gsto->gso", alpha, u), alpha.detach()


_compiled = None


def compile_kernels(enabled: bool) -> bool:
    """Switch project_attend to a torch.compile'd version (CPU speed-up); False if it cannot compile.

    The first compilation takes seconds (later processes reuse Inductor's on-disk cache).
    """
    global _compiled
    if not enabled:
        _compiled = None
        return False
    if _compiled is None:
        try:
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
            candidate = torch.compile(_project_attend_formula, dynamic=True)
            probe = [
                torch.randn(2, 3, 4, 2, requires_grad=True),
                torch.randn(2, 2, 5, requires_grad=True),
                torch.randn(2, 5, requires_grad=True),
                torch.randn(2, 5, requires_grad=True),
            ]
            candidate(*probe, torch.ones(3, 4, dtype=torch.bool))[0].sum().backward()
        except Exception as exc:  # noqa: BLE001 - no compiler here: the eager kernel is exact too
            warnings.warn(f"torch.compile is unavailable ({type(exc).__name__}); using the eager kernels", stacklevel=2)
            return False
        _compiled = candidate
    return True


def project_attend(h, weight, bias, context, mask):
    """Attention pooling of relu(h W + b) for G groups: (v (G, S, o), alpha (G, S, T))."""
    if _compiled is not None and h.device.type == "cpu":
        return _compiled(h, weight, bias, context, mask)
    return _ProjectAttend.apply(h, weight, bias, context, mask)

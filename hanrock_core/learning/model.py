"""The three architectures of the paper (section 3): HAN, flat-MTL HAN and HAN-ROCK.

Read top to bottom: attention, the encoder (biGRU -> relu projection -> attention; one class for
the word, talkturn and batched auxiliary talkturn encoders), the heads, and the models.  Every
model takes the *distinct* talkturns of a batch once (`words`, `lengths`) and the content-context
windows of the samples as positions into them (`windows`), so a talkturn shared by many windows
is encoded once.

Shapes: U distinct talkturns, T words, B samples, L talkturns per window (content size + 1),
N auxiliary tasks, E embedding width, P primary GRU units, A auxiliary GRU units per task.

Speaker-aware content context (`speaker_context`, not in the paper): the primary talkturn encoder reads
each talkturn of a window with a learnt mark added, one for the sample's own speaker and one for anyone
else, so that the window says who spoke each talkturn relative to the talkturn being classified.

Following context (`content_after`, not in the paper): a window may also hold the talkturns that follow
the sample's; the sample's own talkturn is then no longer the last of its window, so every talkturn
encoder reads it with a learnt mark added (zero at the start), the window's other talkturns without.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hanrock_core.learning.kernels import gru_recurrence, project_attend

ARCHITECTURES = ("han", "flat_mtl", "han_rock")
RECURRENCES = ("fused", "torch")  # how an encoder's biGRU runs: kernels.py's loop, or torch.nn.GRU (cuDNN on CUDA)
MASKED = -1e9  # attention score of padding: exp() underflows to exactly 0


@dataclass(frozen=True)
class ModelShape:
    """Sizes of a model; `aux_kinds[k]` is "class" (5-way) or "regression" per auxiliary task."""

    architecture: str
    vocab_size: int
    n_primary_outputs: int  # number of classes, or 1 for regression
    aux_kinds: tuple[str, ...] = ()
    primary_units: int = 256  # P
    aux_units: int = 1  # A (0: no auxiliary talkturn encoders)
    embedding_dim: int = 300
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    aux_classes: int = 5  # outputs of an auxiliary head: the primary classes + "no label" (1 for regression)
    fusion_prior: bool = False  # the fusion attention starts with half its weight on the primary vector (not the paper)
    # the primary content context marks which talkturns the sample's own speaker said (not the paper)
    speaker_context: bool = False
    # windows end with this many talkturns after the sample's, which is marked (not the paper)
    content_after: int = 0
    # element-wise dropout on each embedded word and on the vector the primary head reads (not the paper)
    word_dropout: float = 0.0
    head_dropout: float = 0.0

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of {ARCHITECTURES}")


@dataclass
class ModelOutput:
    primary: torch.Tensor  # (B, n_primary_outputs)
    aux: torch.Tensor | None  # (N, B, K): K = classes + 1 for class tasks; regression reads column 0
    attention: dict[str, torch.Tensor] = field(default_factory=dict)
    aux_input: torch.Tensor | None = None  # (N, B, 2P) HAN-ROCK's auxiliary talkturn vectors, read by heads and fusion


class Attention(nn.Module):
    """alpha = softmax(u . u_ctx [+ prior]) over the steps that `mask` keeps; returns sum(alpha u) and alpha.

    `prior` (n,), when given, is a learnt score per position added to every sample's scores; the
    fusion of HAN-ROCK can start from one that puts half the weight on the primary vector, so that
    16 untrained auxiliary vectors do not drown the primary branch at the start (fusion_prior)."""

    def __init__(self, dim: int, prior: torch.Tensor | None = None):
        super().__init__()
        self.context = nn.Parameter(torch.randn(dim) * 0.05)
        self.prior = nn.Parameter(prior.clone()) if prior is not None else None

    def forward(self, u: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # u: (..., n, d), mask: (..., n)
        scores = u @ self.context  # (..., n)
        if self.prior is not None:
            scores = scores + self.prior
        alpha = torch.softmax(scores.masked_fill(~mask, MASKED), dim=-1)  # (..., n)
        return (alpha.unsqueeze(-1) * u).sum(dim=-2), alpha  # (..., d), (..., n)


def reverse_within_length(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """Index (S, steps) that reverses each right-padded sequence within its own length."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)  # (1, steps)
    n = lengths.unsqueeze(1)  # (S, 1)
    return torch.where(t < n, n - 1 - t, t)


def step_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(S, steps): True where a step holds a real word or talkturn."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def _dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Element-wise dropout; with p = 0 it draws nothing, so the random streams stay as they were."""
    return nn.functional.dropout(x, p, training) if training and p > 0 else x


def mark_talkturns(talkturns: torch.Tensor, aligned: torch.Tensor, codes: torch.Tensor, marks: torch.Tensor):
    """Talkturn vectors with a learnt mark added, and windows pointing into them: row k U + u of the result
    is talkturn u with mark k, and window position (b, l) points at the copy that its code names.  The
    encoder then projects each of the K U marked vectors once, as it does the U unmarked ones."""
    # talkturns: (U, d), aligned: (B, L) left-aligned positions (-1 = none), codes: (B, L) in [0, K), marks: (K, d)
    U = talkturns.shape[0]
    marked = (marks.unsqueeze(1) + talkturns.unsqueeze(0)).flatten(0, 1)  # (K U, d)
    return marked, torch.where(aligned >= 0, aligned + U * codes, aligned)


def same_speaker(aligned: torch.Tensor, own: torch.Tensor, speakers: torch.Tensor) -> torch.Tensor:
    """(B, L) long: 1 where the window's talkturn was said by the speaker of the sample's talkturn, else 0."""
    # aligned: (B, L) positions (-1 = none), own: (B,) the sample's position in its aligned window, speakers: (U,)
    mine = aligned.gather(1, own.unsqueeze(1))  # (B, 1) the sample's talkturn
    return (speakers[aligned.clamp(min=0)] == speakers[mine.clamp(min=0)]).long()


def is_own(aligned: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """(B, L) long: 1 at the sample's own talkturn of each aligned window, else 0."""
    return (torch.arange(aligned.shape[1], device=aligned.device).unsqueeze(0) == own.unsqueeze(1)).long()


def marked_windows(
    talkturns: torch.Tensor,
    aligned: torch.Tensor,
    own: torch.Tensor,
    speakers: torch.Tensor | None,
    speaker_marks: torch.Tensor | None,
    own_mark: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoder's talkturn vectors with their speaker and own-talkturn marks, and windows into them (the
    inputs unchanged where there are no marks); the primary and the auxiliary branches both use it."""
    # talkturns: (U, d), aligned: (B, L), own: (B,), speakers: (U,) or None, speaker_marks: (2, d), own_mark: (d,)
    if speaker_marks is None and own_mark is None:
        return talkturns, aligned
    codes, marks = torch.zeros_like(aligned), talkturns.new_zeros(1, talkturns.shape[1])  # (B, L), (K, d): K = 1
    if speaker_marks is not None:
        if speakers is None:
            raise ValueError("this model marks its content context by speaker: pass each talkturn's speaker code")
        codes, marks = same_speaker(aligned, own, speakers), speaker_marks  # K = 2
    if own_mark is not None:  # K doubles: the marks above, then each with the own mark added
        codes, marks = codes + len(marks) * is_own(aligned, own), torch.cat([marks, marks + own_mark])
    return mark_talkturns(talkturns, aligned, codes, marks)


def align_windows(windows: torch.Tensor, content_after: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Windows (B, L) of positions (-1 = none; padding on the left and, with following context, on the right)
    -> left-aligned positions, lengths, and where the sample's own talkturn sits in each aligned window."""
    valid = windows >= 0  # (B, L): one run of a dialogue's talkturns
    lengths = valid.sum(dim=1)  # (B,)
    L = windows.shape[1]
    first = valid.long().argmax(dim=1)  # (B,) the run's first column
    j = torch.arange(L, device=windows.device).unsqueeze(0)  # (1, L)
    source = (j + first.unsqueeze(1)).clamp(max=L - 1)  # (B, L)
    aligned = torch.where(j < lengths.unsqueeze(1), windows.gather(1, source), torch.full_like(windows, -1))
    return aligned, lengths, (L - 1 - content_after) - first


class Encoder(nn.Module):
    """G independent encoders biGRU(H) -> relu(W h + b) -> attention, sharing one input.

    G = 1 for the primary word and talkturn encoders and the auxiliary word encoder; G = N for
    the auxiliary talkturn encoders, which then run as one batched computation.  `encode` takes
    right-padded sequences (words of talkturns); `encode_windows` takes the distinct talkturn
    vectors and the windows that point into them, and projects each distinct talkturn into the
    GRU's input gates once.  The backward direction reads each sequence reversed within its own
    length, so padding is never read.  Dropout (inputs) and recurrent dropout (hidden state) use
    one mask per batch that is the same at every step; a hidden-state mask is a mask on the
    columns of W_hh.

    `recurrence` chooses how the biGRU runs, with the same parameters and the same mathematics:
    "fused" (kernels.py: input gates of each distinct talkturn projected once, one batched step
    for all directions and groups; fast on CPUs) or "torch" (torch.nn.GRU on packed sequences,
    cuDNN on CUDA; the G groups run as one GRU with block-diagonal recurrent weights, and the
    masked W_hh of recurrent dropout is passed as it is, so dropout is exact there too).
    """

    recurrence = "fused"

    def __init__(
        self, d_in: int, hidden: int, d_out: int, groups: int = 1, dropout: float = 0.0, recurrent_dropout: float = 0.0
    ):
        super().__init__()
        G, H = groups, hidden
        self.groups, self.hidden, self.dropout, self.recurrent_dropout = G, H, dropout, recurrent_dropout
        scale = H**-0.5  # nn.GRU's initialisation
        # GRU weights of 2G GRUs: the forward directions of the G encoders, then their backward directions
        self.weight_ih = nn.Parameter(torch.empty(2 * G, 3 * H, d_in).uniform_(-scale, scale))
        self.weight_hh = nn.Parameter(torch.empty(2 * G, 3 * H, H).uniform_(-scale, scale))
        self.bias_ih = nn.Parameter(torch.empty(2 * G, 3 * H).uniform_(-scale, scale))
        self.bias_hh = nn.Parameter(torch.empty(2 * G, 3 * H).uniform_(-scale, scale))
        self.proj_weight = nn.Parameter(torch.randn(G, 2 * H, d_out) * (2 * H) ** -0.5)
        self.proj_bias = nn.Parameter(torch.zeros(G, d_out))
        self.context = nn.Parameter(torch.randn(G, d_out) * 0.05)

    def _dropped(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., d_in): one input mask per batch, the same at every step
        if self.training and self.dropout > 0:
            keep = torch.bernoulli(torch.full((1, x.shape[-1]), 1 - self.dropout, device=x.device))
            x = x * keep / (1 - self.dropout)
        return x

    def _input_gates(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., d_in) -> (..., 2G, 3H)
        x = self._dropped(x)
        w = self.weight_ih.reshape(-1, self.weight_ih.shape[-1])  # (2G * 3H, d_in)
        return (x @ w.T + self.bias_ih.reshape(-1)).unflatten(-1, self.bias_ih.shape)

    def _recurrent_weights(self) -> torch.Tensor:
        if not (self.training and self.recurrent_dropout > 0):
            return self.weight_hh
        keep = torch.bernoulli(
            torch.full((2 * self.groups, 1, self.hidden), 1 - self.recurrent_dropout, device=self.weight_hh.device)
        )
        return self.weight_hh * keep / (1 - self.recurrent_dropout)  # (2G, 3H, H): columns dropped

    def _encode_gates(self, gates: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # gates: (S, T, 2G, 3H) -> v (G, S, d_out), attention (G, S, T)
        S, T = gates.shape[:2]
        G = self.groups
        gates = gates.permute(2, 0, 1, 3)  # (2G, S, T, 3H)
        rev = reverse_within_length(lengths, T)  # (S, T)
        rev_index = rev.view(1, S, T, 1)
        backward = gates[G:].gather(2, rev_index.expand(G, -1, -1, gates.shape[-1]))
        h = gru_recurrence(torch.cat([gates[:G], backward]), self._recurrent_weights(), self.bias_hh)  # (2G, S, T, H)
        h_backward = h[G:].gather(2, rev_index.expand(G, -1, -1, self.hidden))
        h = torch.cat([h[:G], h_backward], dim=-1)  # (G, S, T, 2H)
        return project_attend(h, self.proj_weight, self.proj_bias, self.context, step_mask(lengths, T))

    def _torch_gru(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # x: (S, T, d_in) right-padded, dropout applied -> h (G, S, T, 2H), zeros past each length
        S, T, d_in = x.shape
        G, H = self.groups, self.hidden
        w_hh = self._recurrent_weights()  # (2G, 3H, H), after the input mask: the fused path's order of draws
        params = {}
        for suffix, groups in (("", slice(0, G)), ("_reverse", slice(G, 2 * G))):
            params[f"weight_ih_l0{suffix}"] = _gate_major(self.weight_ih[groups])  # (3GH, d_in)
            params[f"weight_hh_l0{suffix}"] = _block_diagonal(w_hh[groups])  # (3GH, GH)
            params[f"bias_ih_l0{suffix}"] = _gate_major(self.bias_ih[groups].unsqueeze(-1))[:, 0]  # (3GH,)
            params[f"bias_hh_l0{suffix}"] = _gate_major(self.bias_hh[groups].unsqueeze(-1))[:, 0]
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = functional_call(_gru_template(d_in, G * H, x.device, x.dtype), params, (packed,))
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (S, T, 2GH): forward GH, backward GH
        return h.view(S, T, 2, G, H).permute(3, 0, 1, 2, 4).reshape(G, S, T, 2 * H)

    def _encode_torch(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (S, T, d_in) right-padded -> v (G, S, d_out), attention (G, S, T)
        h = self._torch_gru(self._dropped(x), lengths)
        return project_attend(h, self.proj_weight, self.proj_bias, self.context, step_mask(lengths, x.shape[1]))

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (S, T, d_in) right-padded, lengths: (S,) -> v (G, S, d_out), attention (G, S, T)
        if self.recurrence == "torch":
            return self._encode_torch(x, lengths)
        mask = step_mask(lengths, x.shape[1])
        valid = self._input_gates(x[mask])  # (n_valid, 2G, 3H): padding is never projected
        gates = valid.new_zeros(*mask.shape, *valid.shape[1:]).index_put((mask,), valid)  # (S, T, 2G, 3H)
        return self._encode_gates(gates, lengths)

    def encode_windows(self, talkturns: torch.Tensor, aligned: torch.Tensor, lengths: torch.Tensor):
        # talkturns: (U, d_in) distinct, aligned: (B, L) positions (-1 = none), lengths: (B,)
        if self.recurrence == "torch":  # each window's talkturn vectors in order; nn.GRU projects them
            padded = torch.cat([self._dropped(talkturns), talkturns.new_zeros(1, talkturns.shape[1])])  # row U: padding
            h = self._torch_gru(padded[aligned.where(aligned >= 0, talkturns.shape[0])], lengths)
            return project_attend(
                h, self.proj_weight, self.proj_bias, self.context, step_mask(lengths, aligned.shape[1])
            )
        gates = self._input_gates(talkturns)  # (U, 2G, 3H): each distinct talkturn projected once
        gates = torch.cat([gates, gates.new_zeros(1, *gates.shape[1:])])  # row U: padding
        return self._encode_gates(gates[aligned.where(aligned >= 0, talkturns.shape[0])], lengths)


def _gate_major(w: torch.Tensor) -> torch.Tensor:
    """(G, 3H, k) weights of G GRUs -> (3GH, k) of one GRU of G*H units: gates r, z, n, each group by group."""
    G, H3, k = w.shape
    return w.view(G, 3, H3 // 3, k).transpose(0, 1).reshape(H3 * G, k)


def _block_diagonal(w_hh: torch.Tensor) -> torch.Tensor:
    """(G, 3H, H) recurrent weights -> (3GH, GH): each gate block-diagonal, so the G GRUs never mix."""
    G, H3, H = w_hh.shape
    gates = w_hh.view(G, 3, H, H)
    return torch.cat([torch.block_diag(*gates[:, k]) for k in range(3)])


_GRU_TEMPLATES: dict = {}


def _gru_template(d_in: int, hidden: int, device: torch.device, dtype: torch.dtype) -> nn.GRU:
    """A torch.nn.GRU of this size that functional_call runs with an encoder's own weights (never trained)."""
    key = (d_in, hidden, str(device), dtype)
    if key not in _GRU_TEMPLATES:  # its initialisation must not move the generators the dropout masks come from
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            _GRU_TEMPLATES[key] = nn.GRU(d_in, hidden, batch_first=True, bidirectional=True, device=device, dtype=dtype)
    return _GRU_TEMPLATES[key]


class AuxHeads(nn.Module):
    """One linear head per auxiliary task, batched: K = 5 outputs (class tasks), regression uses the first."""

    def __init__(self, n_tasks: int, d_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_tasks, d_in, n_out) * d_in**-0.5)
        self.bias = nn.Parameter(torch.zeros(n_tasks, 1, n_out))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        # v: (N, B, d_in), one vector per task, or (B, d_in) shared by all -> (N, B, K)
        if v.dim() == 2:
            return torch.einsum("bd,ndk->nbk", v, self.weight) + self.bias
        return torch.baddbmm(self.bias, v, self.weight)


class HierarchicalModel(nn.Module):
    """HAN (primary only), flat-MTL HAN (all heads on v, Fig. 2) or HAN-ROCK (Fig. 3)."""

    def __init__(self, shape: ModelShape):
        super().__init__()
        self.shape = shape
        P, A, E, N = shape.primary_units, shape.aux_units, shape.embedding_dim, len(shape.aux_kinds)
        d = 2 * P
        self.embedding = nn.Embedding(shape.vocab_size, E, padding_idx=0)
        # primary branch: the only path to the primary head in HAN and flat-MTL
        self.primary_words = Encoder(E, P, d, dropout=shape.dropout, recurrent_dropout=shape.recurrent_dropout)
        self.primary_talkturns = Encoder(d, P, d, dropout=shape.dropout, recurrent_dropout=shape.recurrent_dropout)
        self.primary_head = nn.Linear(d, shape.n_primary_outputs)
        # speaker marks of the content context, [another speaker, the sample's speaker]: zero at the start
        self.speaker_marks = nn.Parameter(torch.zeros(2, d)) if shape.speaker_context else None
        # the mark of the sample's own talkturn where windows hold following talkturns: zero at the start
        self.own_mark = nn.Parameter(torch.zeros(d)) if shape.content_after else None
        self.rock = shape.architecture == "han_rock" and N > 0 and A > 0
        if self.rock:
            # auxiliary branch: one shared word encoder, one talkturn encoder per task, then fusion
            self.aux_words = Encoder(E, A, 2 * A)
            self.aux_talkturns = Encoder(2 * A, A, d, groups=N)
            self.aux_own_mark = nn.Parameter(torch.zeros(2 * A)) if shape.content_after else None
            # the primary vector comes last; with a prior it starts at weight 1/2 (exp(log N) against N x exp(0))
            prior = (
                torch.cat([torch.zeros(N), torch.tensor([float(torch.log(torch.tensor(float(N))))])])
                if shape.fusion_prior
                else None
            )
            self.fusion = Attention(d, prior)
        # HAN has no auxiliary heads; HAN-ROCK with A = 0 has no auxiliary encoders for them to read
        with_heads = shape.architecture == "flat_mtl" or self.rock
        self.aux_heads = AuxHeads(N, d, shape.aux_classes) if with_heads and N else None

    def use_recurrence(self, recurrence: str) -> HierarchicalModel:
        """Run every encoder's biGRU with `recurrence` (RECURRENCES); parameters and checkpoints are unchanged."""
        if recurrence not in RECURRENCES:
            raise ValueError(f"unknown recurrence {recurrence!r}; choose one of {RECURRENCES}")
        for module in self.modules():
            if isinstance(module, Encoder):
                module.recurrence = recurrence
        return self

    def forward(
        self,
        words: torch.Tensor,
        lengths: torch.Tensor,
        windows: torch.Tensor,
        speakers: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> ModelOutput:
        # words: (U, T) ids of the distinct talkturns, lengths: (U,), windows: (B, L) positions, -1 = none,
        # speakers: (U,) each distinct talkturn's speaker code (read with speaker_context only)
        x = _dropout(self.embedding(words), self.shape.word_dropout, self.training)  # (U, T, E)
        s_primary, word_alpha = self.primary_words.encode(x, lengths)  # (1, U, 2P), (1, U, T)
        aligned, window_lengths, own = align_windows(windows, self.shape.content_after)  # (B, L), (B,), (B,)
        talkturns, primary_windows = marked_windows(
            s_primary[0], aligned, own, speakers, self.speaker_marks, self.own_mark
        )  # (K U, 2P), (B, L)
        v_primary, turn_alpha = self.primary_talkturns.encode_windows(
            talkturns, primary_windows, window_lengths
        )  # (1, B, 2P)
        v_primary = v_primary[0]
        attention = {}
        aux = None
        if self.rock:
            s_aux, aux_word_alpha = self.aux_words.encode(x, lengths)  # (1, U, 2A)
            aux_talkturns, aux_windows = marked_windows(
                s_aux[0], aligned, own, None, None, self.aux_own_mark
            )  # (K U, 2A), (B, L)
            v_aux, aux_turn_alpha = self.aux_talkturns.encode_windows(aux_talkturns, aux_windows, window_lengths)
            # v_aux: (N, B, 2P)
            stacked = torch.cat([v_aux.transpose(0, 1), v_primary.unsqueeze(1)], dim=1)  # (B, N + 1, 2P), primary last
            v, task_alpha = self.fusion(stacked, torch.ones(stacked.shape[:2], dtype=torch.bool, device=stacked.device))
            aux = self.aux_heads(v_aux)  # (N, B, K)
            if return_attention:
                attention.update(aux_word=aux_word_alpha[0], aux_talkturn=aux_turn_alpha, task=task_alpha)
        else:
            v = v_primary
            if self.aux_heads is not None:
                aux = self.aux_heads(v_primary)  # flat-MTL: every head on the same v
        if return_attention:
            attention.update(word=word_alpha[0], talkturn=turn_alpha[0], aligned_windows=aligned)
        v = _dropout(v, self.shape.head_dropout, self.training)  # (B, 2P)
        return ModelOutput(self.primary_head(v), aux, attention, aux_input=v_aux if self.rock else None)

    def aux_talkturn_parameters(self) -> list[torch.Tensor]:
        """The auxiliary talkturn encoders' parameters (HAN-ROCK): grouped by target, each group trained
        only by its target's loss and, through the fusion, the primary loss (loss_weighting.Lookahead)."""
        return list(self.aux_talkturns.parameters()) if self.rock else []

"""The models: the fast path equals a straightforward per-sample computation; gradient isolation."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

from hanrock_core.learning import kernels
from hanrock_core.learning.model import RECURRENCES, HierarchicalModel, ModelShape, step_mask

KINDS = ("regression", "class", "regression")


def _inputs(generator):
    U, T = 7, 6
    lengths = torch.tensor([6, 3, 1, 5, 2, 4, 6])
    words = torch.randint(1, 30, (U, T), generator=generator)
    words = words.masked_fill(torch.arange(T).unsqueeze(0) >= lengths.unsqueeze(1), 0)
    windows = torch.tensor([[-1, -1, 0, 1], [0, 1, 2, 3], [-1, -1, -1, 4], [2, 3, 5, 6], [-1, 4, 5, 6]])
    return words, lengths, windows


def _sequence(encoder, x, group: int = 0):
    """One sequence (n, d) through encoder `group`, the plain way: nn.GRU, no padding, no batching."""
    G = encoder.groups
    template = torch.nn.GRU(x.shape[-1], encoder.hidden, batch_first=True, device=x.device)

    def direction(d, seq):
        weights = {
            "weight_ih_l0": encoder.weight_ih[d],
            "weight_hh_l0": encoder.weight_hh[d],
            "bias_ih_l0": encoder.bias_ih[d],
            "bias_hh_l0": encoder.bias_hh[d],
        }
        return functional_call(template, weights, (seq.unsqueeze(0),))[0][0]

    h = torch.cat([direction(group, x), direction(G + group, x.flip(0)).flip(0)], -1)
    u = torch.relu(h @ encoder.proj_weight[group] + encoder.proj_bias[group])
    alpha = torch.softmax(u @ encoder.context[group], 0)
    return (alpha.unsqueeze(-1) * u).sum(0)


def straightforward(model: HierarchicalModel, words, lengths, windows, speakers=None):
    """Each sample re-encodes every talkturn of its window; each task runs on its own.  With speakers, each
    talkturn vector of the window gets the mark of the sample's speaker or another's; with following context
    (content_after), the sample's own talkturn (column L - 1 - content_after) gets the own mark."""
    primary, aux = [], []
    column = windows.shape[1] - 1 - model.shape.content_after
    for window in windows:
        turns = [int(p) for p in window if p >= 0]
        me = turns.index(int(window[column]))
        embedded = [model.embedding(words[p, : lengths[p]]) for p in turns]
        s = torch.stack([_sequence(model.primary_words, x) for x in embedded])
        if speakers is not None:
            same = torch.stack([speakers[p] == speakers[turns[me]] for p in turns]).long()
            s = s + model.speaker_marks[same]
        if model.shape.content_after:
            s = s + torch.stack([model.own_mark * (k == me) for k in range(len(turns))])
        v_primary = _sequence(model.primary_talkturns, s)
        if model.rock:
            s_aux = torch.stack([_sequence(model.aux_words, x) for x in embedded])
            if model.shape.content_after:
                s_aux = s_aux + torch.stack([model.aux_own_mark * (k == me) for k in range(len(turns))])
            v_aux = [_sequence(model.aux_talkturns, s_aux, k) for k in range(model.aux_talkturns.groups)]
            stacked = torch.stack(v_aux + [v_primary])
            alpha = torch.softmax(stacked @ model.fusion.context, 0)
            v = (alpha.unsqueeze(-1) * stacked).sum(0)
            heads = [v_aux[k] @ model.aux_heads.weight[k] + model.aux_heads.bias[k, 0] for k in range(len(v_aux))]
        else:
            v = v_primary
            heads = (
                [
                    v @ model.aux_heads.weight[k] + model.aux_heads.bias[k, 0]
                    for k in range(model.aux_heads.weight.shape[0])
                ]
                if model.aux_heads is not None
                else []
            )
        primary.append(model.primary_head(v))
        aux.append(torch.stack(heads) if heads else None)
    return torch.stack(primary), (torch.stack(aux, dim=1) if aux[0] is not None else None)


DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda", id="cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
    ),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("recurrence", RECURRENCES)
@pytest.mark.parametrize("architecture, aux_units", [("han_rock", 2), ("han_rock", 1), ("flat_mtl", 2), ("han", 0)])
def test_fast_path_equals_per_sample_computation(architecture, aux_units, recurrence, device):
    """Both recurrences, on every device there is: outputs and gradients equal the plain per-sample model."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    shape = ModelShape(architecture, 30, 4, KINDS, primary_units=5, aux_units=aux_units, embedding_dim=8)
    model = HierarchicalModel(shape).to(device).eval().use_recurrence(recurrence)
    words, lengths, windows = (t.to(device) for t in _inputs(g))
    fast = model(words, lengths, windows)
    slow_primary, slow_aux = straightforward(model, words, lengths, windows)
    torch.testing.assert_close(fast.primary, slow_primary, atol=1e-5, rtol=1e-5)
    if slow_aux is not None:
        torch.testing.assert_close(fast.aux, slow_aux, atol=1e-5, rtol=1e-5)
    w_p = torch.randn(fast.primary.shape, generator=g).to(device)
    w_a = torch.randn(fast.aux.shape, generator=g).to(device) if fast.aux is not None else None

    def grads(primary, aux):
        model.zero_grad()
        loss = (primary * w_p).sum() + ((aux * w_a).sum() if aux is not None else 0)
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    fast_grads = grads(*(lambda o: (o.primary, o.aux))(model(words, lengths, windows)))
    slow_grads = grads(*straightforward(model, words, lengths, windows))
    assert fast_grads.keys() == slow_grads.keys()
    for name in fast_grads:
        torch.testing.assert_close(fast_grads[name], slow_grads[name], atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("recurrence", RECURRENCES)
@pytest.mark.parametrize("architecture, aux_units", [("han_rock", 2), ("han", 0)])
def test_speaker_aware_context_marks_each_talkturn_by_whether_the_samples_speaker_said_it(
    architecture, aux_units, recurrence
):
    """speaker_context: the window's talkturns carry the mark of the sample's own speaker or another's; the
    fast path (each distinct talkturn projected once per mark) equals the per-sample computation, gradients
    included, and the speakers change the output once the marks have learnt anything."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    shape = ModelShape(architecture, 30, 4, KINDS, 5, aux_units, embedding_dim=8, speaker_context=True)
    model = HierarchicalModel(shape).eval().use_recurrence(recurrence)
    with torch.no_grad():
        model.speaker_marks.copy_(torch.randn(2, 10, generator=g))
    words, lengths, windows = _inputs(g)
    speakers = torch.tensor([0, 1, 0, 1, 1, 0, 2])
    fast = model(words, lengths, windows, speakers)
    slow_primary, _ = straightforward(model, words, lengths, windows, speakers)
    torch.testing.assert_close(fast.primary, slow_primary, atol=1e-5, rtol=1e-5)
    model.zero_grad()
    model(words, lengths, windows, speakers).primary.sum().backward()
    fast_grad = model.speaker_marks.grad.clone()
    model.zero_grad()
    straightforward(model, words, lengths, windows, speakers)[0].sum().backward()
    torch.testing.assert_close(fast_grad, model.speaker_marks.grad, atol=1e-5, rtol=1e-5)
    one_speaker = model(words, lengths, windows, torch.zeros(7, dtype=torch.long)).primary
    assert not torch.allclose(one_speaker, fast.primary)
    with pytest.raises(ValueError, match="speaker code"):
        model(words, lengths, windows)


@pytest.mark.parametrize("recurrence", RECURRENCES)
@pytest.mark.parametrize("architecture, aux_units, speaker_context", [("han_rock", 2, True), ("han", 0, False)])
def test_following_context_marks_the_samples_own_talkturn_wherever_it_sits(
    architecture, aux_units, speaker_context, recurrence
):
    """content_after: windows padded on both sides (the sample's talkturn in column L - 1 - content_after);
    every talkturn encoder reads the sample's own talkturn with its mark.  The fast path equals the
    per-sample computation, gradients of the marks included, and the mark changes the output."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4)
    shape = ModelShape(
        architecture, 30, 4, KINDS, 5, aux_units, embedding_dim=8, speaker_context=speaker_context, content_after=2
    )
    model = HierarchicalModel(shape).eval().use_recurrence(recurrence)
    marks = [model.own_mark] + ([model.aux_own_mark, model.speaker_marks] if model.rock else [])
    with torch.no_grad():
        for mark in marks:
            mark.copy_(torch.randn(mark.shape, generator=g))
    words, lengths, _ = _inputs(g)
    # two dialogues: talkturns 0-3 and 4-6; content_size 1, content_after 2
    windows = torch.tensor([[-1, 0, 1, 2], [0, 1, 2, 3], [1, 2, 3, -1], [2, 3, -1, -1], [-1, 4, 5, 6], [5, 6, -1, -1]])
    speakers = torch.tensor([0, 1, 0, 1, 1, 0, 2]) if speaker_context else None
    fast = model(words, lengths, windows, speakers)
    slow_primary, slow_aux = straightforward(model, words, lengths, windows, speakers)
    torch.testing.assert_close(fast.primary, slow_primary, atol=1e-5, rtol=1e-5)
    if slow_aux is not None:
        torch.testing.assert_close(fast.aux, slow_aux, atol=1e-5, rtol=1e-5)

    def mark_grads(out_primary):
        model.zero_grad()
        out_primary.sum().backward()
        return [mark.grad.clone() for mark in marks]

    fast_grads = mark_grads(model(words, lengths, windows, speakers).primary)
    slow_grads = mark_grads(straightforward(model, words, lengths, windows, speakers)[0])
    for fast_grad, slow_grad in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(fast_grad, slow_grad, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        model.own_mark.zero_()
    assert not torch.allclose(model(words, lengths, windows, speakers).primary, fast.primary)


def _rock():
    torch.manual_seed(3)
    shape = ModelShape("han_rock", 30, 4, KINDS, primary_units=5, aux_units=2, embedding_dim=8)
    return HierarchicalModel(shape)


def test_auxiliary_losses_never_reach_the_primary_branch():
    model = _rock()
    words, lengths, windows = _inputs(torch.Generator().manual_seed(2))
    out = model(words, lengths, windows)
    out.aux.pow(2).sum().backward()
    for name, p in model.named_parameters():
        primary_branch = name.startswith(("primary_", "fusion"))
        if primary_branch:
            assert p.grad is None or torch.count_nonzero(p.grad) == 0, name
    assert torch.count_nonzero(model.embedding.weight.grad) > 0  # the shared embedding does learn from them
    model.zero_grad()
    F.cross_entropy(model(words, lengths, windows).primary, torch.tensor([0, 1, 2, 3, 0])).backward()
    aux_grads = [p.grad for n, p in model.named_parameters() if n.startswith("aux_talkturns")]
    assert any(g is not None and torch.count_nonzero(g) > 0 for g in aux_grads)  # through the fusion


def test_no_auxiliary_encoders_when_a_is_zero():
    model = HierarchicalModel(ModelShape("han_rock", 30, 1, KINDS, primary_units=5, aux_units=0, embedding_dim=8))
    words, lengths, windows = _inputs(torch.Generator().manual_seed(2))
    out = model(words, lengths, windows)
    assert out.aux is None and out.primary.shape == (5, 1) and not model.rock


def test_attention_is_returned_on_request():
    model = _rock().eval()
    words, lengths, windows = _inputs(torch.Generator().manual_seed(2))
    att = model(words, lengths, windows, return_attention=True).attention
    assert att["word"].shape == (7, 6) and att["talkturn"].shape == (5, 4) and att["task"].shape == (5, 4)
    torch.testing.assert_close(att["task"].sum(-1), torch.ones(5))
    assert torch.all(att["word"][2, 1:] == 0)  # padding gets no attention


@pytest.mark.skipif(not (shutil.which("gcc") or shutil.which("cc")), reason="torch.compile needs a C compiler")
def test_compiled_attention_kernel_matches_the_eager_one():
    g = torch.Generator().manual_seed(4)
    args = [
        torch.randn(3, 5, 7, 4, generator=g),
        torch.randn(3, 4, 6, generator=g),
        torch.randn(3, 6, generator=g),
        torch.randn(3, 6, generator=g),
    ]
    mask = torch.arange(7).unsqueeze(0) < torch.tensor([7, 3, 1, 5, 2]).unsqueeze(1)
    results = []
    for compiled in (False, True):
        assert kernels.compile_kernels(compiled) is compiled
        leaves = [a.clone().requires_grad_() for a in args]
        v, alpha = kernels.project_attend(*leaves, mask)
        (v * torch.linspace(-1, 1, v.numel()).view_as(v)).sum().backward()
        results.append([v, alpha] + [a.grad for a in leaves])
    kernels.compile_kernels(False)
    for eager, fused in zip(*results):
        torch.testing.assert_close(fused, eager, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_both_recurrences_draw_the_same_dropout_and_share_checkpoints(device):
    """Training mode with dropout and recurrent dropout: the same seed gives the same outputs and
    gradients either way, and a state_dict of one backend is the other's."""
    torch.manual_seed(0)
    shape = ModelShape(
        "han_rock", 30, 4, KINDS, primary_units=5, aux_units=2, embedding_dim=8, dropout=0.3, recurrent_dropout=0.3
    )
    model = HierarchicalModel(shape).to(device).train()
    words, lengths, windows = (t.to(device) for t in _inputs(torch.Generator().manual_seed(1)))
    results = {}
    for recurrence in RECURRENCES:
        model.use_recurrence(recurrence).zero_grad()
        torch.manual_seed(5)
        out = model(words, lengths, windows)
        (out.primary.sum() + out.aux.square().sum()).backward()
        results[recurrence] = (out.primary.detach(), {n: p.grad.clone() for n, p in model.named_parameters()})
    (fused, fused_grads), (plain, plain_grads) = results["fused"], results["torch"]
    torch.testing.assert_close(plain, fused, atol=1e-5, rtol=1e-5)
    for name in fused_grads:
        torch.testing.assert_close(plain_grads[name], fused_grads[name], atol=1e-5, rtol=1e-5, msg=name)
    other = HierarchicalModel(shape).to(device).eval().use_recurrence("torch")
    other.load_state_dict(model.state_dict())
    torch.testing.assert_close(
        other(words, lengths, windows).primary,
        model.eval().use_recurrence("fused")(words, lengths, windows).primary,
        atol=1e-5,
        rtol=1e-5,
    )


def test_word_and_head_dropout_are_element_wise_in_training_and_off_in_evaluation():
    """word_dropout drops single elements of each embedded word and head_dropout single elements of the vector the
    primary head reads: in training they change the outputs, in evaluation the model is the one without them."""
    torch.manual_seed(0)
    plain_shape = ModelShape("han", 30, 4, (), primary_units=5, aux_units=0, embedding_dim=8)
    plain = HierarchicalModel(plain_shape)
    words, lengths, windows = _inputs(torch.Generator().manual_seed(1))
    for setting in ({"word_dropout": 0.5}, {"head_dropout": 0.5}):
        dropped = HierarchicalModel(ModelShape(**{**plain_shape.__dict__, **setting}))
        dropped.load_state_dict(plain.state_dict())
        torch.testing.assert_close(
            dropped.eval()(words, lengths, windows).primary, plain.eval()(words, lengths, windows).primary
        )
        dropped.train(), plain.train()
        torch.manual_seed(5)
        trained = dropped(words, lengths, windows).primary
        torch.manual_seed(5)
        assert not torch.allclose(trained, plain(words, lengths, windows).primary), setting
    kept = []  # element-wise: rows of one batch keep different elements of the same word
    dropped = HierarchicalModel(ModelShape(**{**plain_shape.__dict__, "word_dropout": 0.5})).train()
    dropped.primary_words.encode = lambda x, lengths: kept.append(x) or plain.primary_words.encode(x, lengths)
    dropped(words, lengths, windows)
    zero = kept[0][step_mask(lengths, words.shape[1])] == 0  # (valid words, E): padding is zero anyway
    assert 0.3 < zero.float().mean() < 0.7 and not torch.equal(zero[0], zero[-1])

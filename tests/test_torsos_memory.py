"""Memory torsos (LSTM, GRU, attention) and the board attention encoder: shapes, gradients, streaming equals
sequence, resets cut the past, the attention window, and the config wiring."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from agents.errors import ConfigError
from agents.torsos import TorsoConfig, build_torso
from agents.torsos.attention import AttentionTorso, BoardAttentionTorso
from agents.torsos.base import Torso
from agents.torsos.cnn import SmallCNN
from agents.torsos.mlp import MLPTorso
from agents.torsos.recurrent import RecurrentTorso, SequenceTorso, detach_state
from envs.base import EnvSpec

T, B = 9, 3
ATOL = 1e-5

FEATURES = {
    "mlp": ((5,), lambda: MLPTorso((5,), (16,), "tanh")),
    "cnn": ((2, 5, 5), lambda: SmallCNN((2, 5, 5), fc=16, channels=4)),
}
CORES: dict[str, Any] = {
    "lstm": lambda f: RecurrentTorso(f, "lstm", 12),
    "gru": lambda f: RecurrentTorso(f, "gru", 12),
    "attn-sin-gated": lambda f: AttentionTorso(f, 16, 2, 2, 4, "sinusoidal", True),
    "attn-sin": lambda f: AttentionTorso(f, 16, 2, 2, 4, "sinusoidal", False),
    "attn-learned-gated": lambda f: AttentionTorso(f, 16, 2, 2, 4, "learned", True),
    "attn-learned": lambda f: AttentionTorso(f, 16, 4, 1, 3, "learned", False),
}
CASES = [(c, f) for c in CORES for f in FEATURES]


def make(core: str, feature: str, seed: int = 0) -> tuple[SequenceTorso, tuple[int, ...]]:
    torch.manual_seed(seed)
    shape, build = FEATURES[feature]
    torso = CORES[core](build())
    if isinstance(torso, AttentionTorso):
        # Push the gates away from their identity start, so the test sees the attention paths.
        for blk in torso.blocks:
            for gate in (blk.gate_attn, blk.gate_mlp):
                if gate is not None:
                    gate.b_g.data.zero_()
    return torso, shape


def flat(state: Any) -> list[torch.Tensor]:
    return [state] if isinstance(state, torch.Tensor) else list(state)


def stream(torso: SequenceTorso, obs: torch.Tensor, state: Any, reset: torch.Tensor) -> tuple[torch.Tensor, Any]:
    outs = []
    for t in range(obs.shape[0]):
        out, state = torso(obs[t], state, reset[t])
        outs.append(out)
    return torch.stack(outs), state


def assert_state_close(a: Any, b: Any) -> None:
    for x, y in zip(flat(a), flat(b), strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype
        if x.dtype == torch.bool:
            assert torch.equal(x, y)
        else:
            assert torch.allclose(x, y, atol=ATOL, rtol=0), (x - y).abs().max()


def episode_resets(t: int = T, b: int = B) -> torch.Tensor:
    reset = torch.zeros(t, b, dtype=torch.bool)
    reset[0, 0] = True  # episode start at the first step
    reset[3, 1] = True  # mid-sequence boundaries
    reset[5, 0] = True
    reset[6, 1] = True
    return reset


@pytest.mark.parametrize(("core", "feature"), CASES)
def test_shapes_initial_state_and_gradients(core: str, feature: str) -> None:
    torso, shape = make(core, feature)
    assert torso.is_recurrent
    state = torso.initial_state(B)
    for s in flat(state):
        assert s.shape[0] == B and not s.any()
    obs = torch.randn(T, B, *shape)
    out, final = torso.forward_sequence(obs, state, episode_resets())
    assert out.shape == (T, B, torso.output_dim)
    assert [s.shape for s in flat(final)] == [s.shape for s in flat(state)]
    step, _ = torso(obs[0], None)
    assert step.shape == (B, torso.output_dim)
    out.square().mean().backward()
    feature_grads = [p.grad for p in torso.feature.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in feature_grads)


@pytest.mark.parametrize(("core", "feature"), CASES)
def test_streaming_equals_sequence_with_resets(core: str, feature: str) -> None:
    torso, shape = make(core, feature)
    torch.manual_seed(1)
    # Warm up from zeros so the memory carried in is non-trivial, with a reset inside the warm-up too.
    warm_reset = torch.zeros(5, B, dtype=torch.bool)
    warm_reset[2, 2] = True
    _, state = stream(torso, torch.randn(5, B, *shape), None, warm_reset)
    obs, reset = torch.randn(T, B, *shape), episode_resets()
    with torch.no_grad():
        seq_out, seq_state = torso.forward_sequence(obs, state, reset)
        st_out, st_state = stream(torso, obs, state, reset)
    assert torch.allclose(seq_out, st_out, atol=ATOL, rtol=0), (seq_out - st_out).abs().max()
    assert_state_close(seq_state, st_state)
    # Splitting the sequence anywhere and carrying the state gives the same again.
    a_out, a_state = torso.forward_sequence(obs[:4], state, reset[:4])
    b_out, b_state = torso.forward_sequence(obs[4:], a_state, reset[4:])
    assert torch.allclose(torch.cat([a_out, b_out]), seq_out, atol=ATOL, rtol=0)
    assert_state_close(b_state, seq_state)


@pytest.mark.parametrize(("core", "feature"), CASES)
def test_reset_cuts_off_the_past(core: str, feature: str) -> None:
    torso, shape = make(core, feature)
    torch.manual_seed(2)
    obs, reset = torch.randn(T, B, *shape), episode_resets()
    _, state = stream(torso, torch.randn(4, B, *shape), None, torch.zeros(4, B, dtype=torch.bool))
    with torch.no_grad():
        out, final = torso.forward_sequence(obs, state, reset)
        other = obs.clone()
        other[:5] = torch.randn(5, B, *shape)  # row 0 resets at t=5, row 1 at t=6
        other_state = tuple(s.clone() for s in flat(state))
        for s in other_state:
            if s.dtype != torch.bool:
                s.normal_()  # a different carried-in memory too
        out2, final2 = torso.forward_sequence(other, other_state if len(other_state) > 1 else other_state[0], reset)
    assert torch.allclose(out[5:, 0], out2[5:, 0], atol=ATOL, rtol=0)
    assert torch.allclose(out[6:, 1], out2[6:, 1], atol=ATOL, rtol=0)
    assert not torch.allclose(out[5:, 2], out2[5:, 2], atol=ATOL)  # row 2 never resets: the change shows
    for x, y in zip(flat(final), flat(final2), strict=True):
        assert torch.allclose(x[:2].float(), y[:2].float(), atol=ATOL, rtol=0)


@pytest.mark.parametrize("layers", [1, 2])
def test_attention_window(layers: int) -> None:
    k = 3
    torch.manual_seed(3)
    torso = AttentionTorso(MLPTorso((5,), (16,)), 16, 2, layers, k, "learned", gated=False)
    reach = layers * (k - 1) + 1  # steps a stack of per-layer K-windows can see, the current one included
    n = reach + 3
    obs = torch.randn(n, 1, 5)
    with torch.no_grad():
        out, _ = torso.forward_sequence(obs, None)
        for past in range(n - 1):
            other = obs.clone()
            other[past] += 1.0
            out2, _ = torso.forward_sequence(other, None)
            seen = n - 1 - past < reach  # age of the changed step, seen from the last step
            assert torch.allclose(out[-1], out2[-1], atol=ATOL, rtol=0) != seen, (past, seen)


def test_attention_state_holds_k_minus_one_steps_and_validity() -> None:
    torso = AttentionTorso(MLPTorso((5,), (8,)), 8, 2, 2, 4)
    memory, valid = torso.initial_state(2)
    assert memory.shape == (2, 2, 3, 8) and valid.shape == (2, 3) and valid.dtype == torch.bool
    reset = torch.tensor([[True, False], [False, False], [False, False], [False, True], [False, False]])
    _, (memory, valid) = torso.forward_sequence(torch.randn(5, 2, 5), None, reset)
    assert valid.tolist() == [[True, True, True], [False, True, True]]
    assert not memory[1, :, 0].any()  # a slot from before the reset is zeroed
    one = AttentionTorso(MLPTorso((5,), (8,)), 8, 2, 1, 1)  # K = 1: no memory at all
    out, (memory, valid) = one.forward_sequence(torch.randn(4, 2, 5), None)
    assert out.shape == (4, 2, 8) and memory.shape == (2, 1, 0, 8) and valid.shape == (2, 0)


def test_recurrent_state_layout_and_detach() -> None:
    lstm = RecurrentTorso(MLPTorso((5,), (8,)), "lstm", 6)
    h, c = lstm.initial_state(4)
    assert h.shape == c.shape == (4, 6)
    gru = RecurrentTorso(MLPTorso((5,), (8,)), "gru", 6)
    assert gru.initial_state(4).shape == (4, 6)
    _, state = lstm.forward_sequence(torch.randn(3, 4, 5), None)
    assert all(s.requires_grad for s in state) and not any(s.requires_grad for s in detach_state(state))
    with pytest.raises(ValueError):
        RecurrentTorso(lstm, "gru", 4)


def test_board_attention() -> None:
    torch.manual_seed(4)
    torso = BoardAttentionTorso((2, 6, 7), dim=16, heads=4, layers=2)
    assert not torso.is_recurrent and torso.initial_state(5) is None
    obs = torch.randn(5, 2, 6, 7)
    out, state = torso(obs)
    assert out.shape == (5, 16) and state is None
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in torso.parameters())
    torso.eval()
    with torch.no_grad():  # no BatchNorm: a position's features do not depend on the rest of the batch
        assert torch.allclose(torso(obs[:1])[0], torso(obs)[0][:1], atol=ATOL)


def spec(shape: tuple[int, ...], kind: str) -> EnvSpec:
    return EnvSpec(env_id="test", obs_shape=shape, obs_dtype="float32", num_actions=3, kind=kind)


@pytest.mark.parametrize(("cfg", "env", "cls"), [
    (TorsoConfig(), spec((4,), "vector"), MLPTorso),
    (TorsoConfig(core="lstm", core_hidden=8), spec((4,), "vector"), RecurrentTorso),
    (TorsoConfig(core="gru"), spec((4, 10, 10), "image"), RecurrentTorso),
    (TorsoConfig(core="attention", attention_memory=3), spec((4,), "vector"), AttentionTorso),
    (TorsoConfig(kind="board_attention", core_hidden=16), spec((2, 6, 7), "board"), BoardAttentionTorso),
])
def test_build_torso(cfg: TorsoConfig, env: EnvSpec, cls: type[Torso]) -> None:
    torso = build_torso(cfg, env)
    assert isinstance(torso, cls)
    if isinstance(torso, SequenceTorso):
        assert isinstance(torso.feature, MLPTorso if len(env.obs_shape) == 1 else SmallCNN)
        out, _ = torso(torch.zeros(2, *env.obs_shape), None)
        assert out.shape == (2, torso.output_dim)


def test_build_torso_rejects_bad_attention() -> None:
    with pytest.raises(ConfigError):
        build_torso(TorsoConfig(core="attention", core_hidden=10, attention_heads=4), spec((4,), "vector"))
    with pytest.raises(ConfigError):
        build_torso(TorsoConfig(core="attention", attention_memory=0), spec((4,), "vector"))
    with pytest.raises(ConfigError):
        build_torso(TorsoConfig(kind="board_attention"), spec((4,), "vector"))

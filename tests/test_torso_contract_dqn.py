"""The torso contract for the DQN family (every Rainbow head): any torso, feed-forward or with memory, gives
``[B, A, K]`` outputs, threads its state across steps and resets, passes gradients to its first layer, and
streams exactly what its parallel sequence pass computes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from agents.dqn import DQNConfig, QNetwork, build_q_network
from agents.torsos import TorsoConfig
from envs.base import EnvSpec

VECTOR = EnvSpec(env_id="vec", obs_shape=(4,), obs_dtype="float32", kind="vector", num_actions=3)
IMAGE = EnvSpec(env_id="img", obs_shape=(2, 10, 10), obs_dtype="uint8", kind="image", num_actions=3)

TORSOS = {
    "mlp": (TorsoConfig(kind="mlp", hidden=(16,)), VECTOR),
    "small_cnn": (TorsoConfig(kind="small_cnn", fc=16), IMAGE),
    "mlp+lstm": (TorsoConfig(kind="mlp", hidden=(16,), core="lstm", core_hidden=8), VECTOR),
    "mlp+gru": (TorsoConfig(kind="mlp", hidden=(16,), core="gru", core_hidden=8), VECTOR),
    "mlp+attention": (TorsoConfig(kind="mlp", hidden=(16,), core="attention", core_hidden=8, attention_heads=2,
                                  attention_layers=2, attention_memory=3), VECTOR),
    "small_cnn+lstm": (TorsoConfig(kind="small_cnn", fc=16, core="lstm", core_hidden=8), IMAGE),
}
HEADS = {
    "dqn": DQNConfig(),
    "rainbow": DQNConfig(double=True, dueling=True, prioritized=True, n_step=3, noisy=True, distributional=True,
                         num_atoms=5),
}


def _net(torso: str, head: str) -> tuple[QNetwork, EnvSpec]:
    torch.manual_seed(0)
    cfg, spec = TORSOS[torso]
    return build_q_network(HEADS[head], cfg, spec).eval(), spec


def _obs(spec: EnvSpec, *lead: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if spec.obs_dtype == "uint8":
        return torch.randint(0, 2, (*lead, *spec.obs_shape), generator=g, dtype=torch.uint8)
    return torch.randn(*lead, *spec.obs_shape, generator=g)


@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("torso", list(TORSOS))
def test_shapes_and_gradients(torso: str, head: str) -> None:
    net, spec = _net(torso, head)
    k = HEADS[head].num_atoms if HEADS[head].distributional else 1
    out, state = net(_obs(spec, 5))
    assert out.shape == (5, 3, k)
    assert (state is None) == (not net.is_recurrent)
    net.q_values(out).sum().backward()
    first = next(net.torso.parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0


@pytest.mark.parametrize("torso", [t for t in TORSOS if "+" in t])
def test_state_threads_and_resets(torso: str) -> None:
    net, spec = _net(torso, "rainbow")
    obs = _obs(spec, 4, 2)  # [T, B, ...]
    with torch.no_grad():
        state = None
        for t in range(3):
            _, state = net(obs[t], state)
        carried, _ = net(obs[3], state)
        fresh, _ = net(obs[3])
        reset, _ = net(obs[3], state, torch.tensor([True, False]))
    assert not torch.allclose(carried, fresh)  # the state carries memory of earlier steps
    torch.testing.assert_close(reset[0], fresh[0])  # a reset row forgets it
    torch.testing.assert_close(reset[1], carried[1])  # the other row keeps it


@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("torso", [t for t in TORSOS if "+" in t])
def test_streaming_equals_the_parallel_pass(torso: str, head: str) -> None:
    net, spec = _net(torso, head)
    t_len, b = 7, 3
    obs = _obs(spec, t_len, b)
    reset = torch.zeros(t_len, b, dtype=torch.bool)
    reset[0] = True
    reset[4, 1] = True  # an episode starts mid-sequence in row 1
    with torch.no_grad():
        parallel, final = net.forward_sequence(obs, None, reset)  # [T, B, A, K]
        state, steps = None, []
        for t in range(t_len):
            out, state = net(obs[t], state, reset[t])
            steps.append(out)
    torch.testing.assert_close(torch.stack(steps), parallel, rtol=1e-5, atol=1e-5)
    flat = [final] if isinstance(final, torch.Tensor) else list(final)
    stream = [state] if isinstance(state, torch.Tensor) else list(state)
    for a, s in zip(flat, stream, strict=True):
        torch.testing.assert_close(a.float(), s.float())


def test_noisy_heads_on_memory_torsos_resample_noise() -> None:
    cfg, spec = TORSOS["mlp+lstm"]
    net = build_q_network(replace(HEADS["rainbow"]), cfg, spec).train()
    obs = _obs(spec, 2)
    net.reset_noise(torch.Generator().manual_seed(0))
    a, _ = net(obs)
    net.reset_noise(torch.Generator().manual_seed(1))
    b, _ = net(obs)
    assert not torch.allclose(a, b)

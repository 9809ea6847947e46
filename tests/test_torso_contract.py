"""Contract tests, every torso x every agent network family (DESIGN.md, test tier 3).

For each family (``FAMILIES``) and each torso config it accepts (``TORSOS``), with tiny sizes:

- shapes: the family's outputs for ``B`` observations (and, with a memory core, for one step and for a
  ``[T, B]`` sequence), and a batch-first recurrent state of ``B`` rows;
- state threading (memory cores): an output depends on the earlier steps of its episode, through the state
  carried by ``step`` and inside ``sequence``;
- resets: a row whose observation starts an episode gives exactly the output of a fresh state, whatever
  state it arrives with, while the other rows keep their memory;
- gradients reach the first layer of every torso of the network (and, through a memory core, the
  observation of the sequence's first step);
- streaming equals parallel: ``T`` calls of ``step`` give the outputs and final state of one ``sequence``
  call over a sequence with resets in the middle.

Families: the PPO / REINFORCE actor-critic (``build_actor_critic``: separate and shared torsos, with and
without a critic, categorical and Gaussian heads; behaviour cloning trains this same network, so it has no
family of its own), GAIL's discriminator and AlphaZero's policy-value network (both feed-forward only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from agents.actor_critic import ActorCritic, ActorCriticConfig, build_actor_critic
from agents.alphazero.network import PolicyValueNet, board_spec, build_policy_value_net
from agents.distributions import ActionDistribution, Categorical, DiagGaussian
from agents.errors import ConfigError
from agents.gail.discriminator import Discriminator
from agents.torsos import RecurrentState, Torso, TorsoConfig, build_torso
from envs.base import EnvSpec
from envs.games.tictactoe import TicTacToe

T, B = 6, 3
ATOL = 1e-5
Outputs = tuple[torch.Tensor, ...]

TORSOS: dict[str, TorsoConfig] = {
    "mlp": TorsoConfig(kind="mlp", hidden=(8,), activation="tanh"),
    "small_cnn": TorsoConfig(kind="small_cnn", fc=8),
    "mlp+lstm": TorsoConfig(kind="mlp", hidden=(8,), core="lstm", core_hidden=8),
    "mlp+gru": TorsoConfig(kind="mlp", hidden=(8,), core="gru", core_hidden=8),
    "mlp+attention": TorsoConfig(kind="mlp", hidden=(8,), core="attention", core_hidden=8, attention_heads=2,
                                 attention_layers=2, attention_memory=3),
    "resnet": TorsoConfig(kind="resnet", channels=4, blocks=1),
    "board_attention": TorsoConfig(kind="board_attention", core_hidden=8, attention_heads=2, attention_layers=1),
}
MEMORY = ("mlp+lstm", "mlp+gru", "mlp+attention")

SPECS: dict[str, EnvSpec] = {
    "vector": EnvSpec("vec", (5,), "float32", 3, "vector"),
    "image": EnvSpec("img", (2, 5, 5), "float32", 3, "image"),
    "box": EnvSpec("box", (5,), "float32", 0, "vector", action_shape=(2,), action_low=(-1.0, -1.0),
                   action_high=(1.0, 1.0)),
    "board": board_spec(TicTacToe()),
}


@dataclass(frozen=True)
class Family:
    """One agent network family, seen through what the contract needs.

    Attributes:
        name: test id.
        torsos: the ``TORSOS`` it accepts, each with the ``SPECS`` observation kind it is built for.
        build: ``(torso config, spec) -> network``.
        forward: feed-forward call, ``obs [B, ...] -> outputs`` (each with leading dimension ``B``).
        shapes: the expected output shapes without the batch dimension.
        torsos_of: the network's torsos (each must get gradients in its first layer).
        step: memory cores: ``(net, obs [B, ...], state, reset [B]) -> (outputs [B, ...], state)``.
        sequence: memory cores: ``(net, obs [T, B, ...], state, reset [T, B]) -> (outputs [T, B, ...], state)``.
        initial_state: memory cores: ``(net, batch) -> state``.
    """

    name: str
    torsos: tuple[tuple[str, str], ...]
    build: Callable[[TorsoConfig, EnvSpec], nn.Module]
    forward: Callable[[Any, torch.Tensor], Outputs]
    shapes: Callable[[EnvSpec], tuple[tuple[int, ...], ...]]
    torsos_of: Callable[[Any], list[Torso]]
    step: Callable[[Any, torch.Tensor, RecurrentState, torch.Tensor], tuple[Outputs, RecurrentState]] | None = None
    sequence: Callable[[Any, torch.Tensor, RecurrentState, torch.Tensor], tuple[Outputs, RecurrentState]] | None = None
    initial_state: Callable[[Any, int], RecurrentState] | None = None


# --- the actor-critic (PPO, REINFORCE, BC) ---------------------------------------------------------------------

def _policy_out(dist: ActionDistribution) -> torch.Tensor:
    """``[B, A]`` normalised logits (categorical) or ``[B, d]`` means (Gaussian)."""
    if isinstance(dist, Categorical):
        return dist.logits
    assert isinstance(dist, DiagGaussian)
    return dist.mean


def _ac_outputs(dist: ActionDistribution, value: torch.Tensor | None) -> Outputs:
    return (_policy_out(dist),) if value is None else (_policy_out(dist), value)


def _ac_shapes(value: bool) -> Callable[[EnvSpec], tuple[tuple[int, ...], ...]]:
    def shapes(spec: EnvSpec) -> tuple[tuple[int, ...], ...]:
        policy = spec.action_shape if spec.continuous else (spec.num_actions,)
        return (policy, ()) if value else (policy,)
    return shapes


def _ac_sequence(net: ActorCritic, obs: torch.Tensor, state: RecurrentState, reset: torch.Tensor,
                 ) -> tuple[Outputs, RecurrentState]:
    dist, value, state = net.sequence(obs, state, reset)  # over T * B, time-major
    t, b = obs.shape[:2]
    return tuple(x.reshape(t, b, *x.shape[1:]) for x in _ac_outputs(dist, value)), state


def _ac_step(net: ActorCritic, obs: torch.Tensor, state: RecurrentState, reset: torch.Tensor,
             ) -> tuple[Outputs, RecurrentState]:
    dist, value, state = net.step(obs, state, reset)
    return _ac_outputs(dist, value), state


def actor_critic(name: str, shared: bool, value: bool, action: str) -> Family:
    """``build_actor_critic`` with separate or shared torsos, with or without a critic, on ``action`` specs."""
    obs = {"discrete": ("vector", "image"), "continuous": ("box", "box")}[action]
    torsos = ((("mlp", obs[0]), ("small_cnn", obs[1])) if action == "discrete" else (("mlp", obs[0]),))
    return Family(
        name=name,
        torsos=(*torsos, *((m, obs[0]) for m in MEMORY)),
        build=lambda cfg, spec: build_actor_critic(ActorCriticConfig(shared=shared), cfg, spec, value=value),
        forward=lambda net, x: _ac_outputs(*net(x)),
        shapes=_ac_shapes(value),
        torsos_of=lambda net: [t for t in (net.actor_torso, net.critic_torso) if t is not None],
        step=_ac_step, sequence=_ac_sequence, initial_state=lambda net, b: net.initial_state(b),
    )


# --- GAIL's discriminator and AlphaZero's policy-value network (feed-forward) -------------------------------------

def _discriminator(cfg: TorsoConfig, spec: EnvSpec) -> Discriminator:
    return Discriminator(build_torso(cfg, spec), spec.num_actions, 0, hidden=(8,))


def _disc_forward(net: Discriminator, obs: torch.Tensor) -> Outputs:
    action = (obs.flatten(1).sum(1) > 0).long() + 1  # [B] actions fixed by each row's observation
    return (net(obs, action),)


def _alphazero(cfg: TorsoConfig, spec: EnvSpec) -> PolicyValueNet:
    return build_policy_value_net(TicTacToe(), cfg, value_hidden=8)


FAMILIES: list[Family] = [
    actor_critic("ppo", shared=False, value=True, action="discrete"),
    actor_critic("ppo-shared", shared=True, value=True, action="discrete"),
    actor_critic("reinforce-no-critic", shared=False, value=False, action="discrete"),
    actor_critic("ppo-gaussian", shared=False, value=True, action="continuous"),
    Family(name="gail-discriminator", torsos=(("mlp", "vector"), ("small_cnn", "image")), build=_discriminator,
           forward=_disc_forward, shapes=lambda spec: ((),), torsos_of=lambda net: [net.torso]),
    Family(name="alphazero", torsos=(("resnet", "board"), ("board_attention", "board"), ("mlp", "board")),
           build=_alphazero, forward=lambda net, x: tuple(net(x)),
           shapes=lambda spec: ((spec.num_actions,), ()), torsos_of=lambda net: [net.torso]),
    # DQN family (agents/dqn: build_q_network, with its memory cores): the lead engineer adds its Family here.
]

CASES = [pytest.param(f, t, s, id=f"{f.name}-{t}") for f in FAMILIES for t, s in f.torsos]
MEMORY_CASES = [pytest.param(f, t, s, id=f"{f.name}-{t}") for f in FAMILIES for t, s in f.torsos if t in MEMORY]


def build(family: Family, torso: str, spec_name: str, seed: int = 0) -> tuple[Any, EnvSpec]:
    torch.manual_seed(seed)
    spec = SPECS[spec_name]
    return family.build(TORSOS[torso], spec), spec


def observations(spec: EnvSpec, *lead: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if spec.kind == "board":  # planes of 0/1 stones
        return (torch.rand(*lead, *spec.obs_shape, generator=g) < 0.3).float()
    return torch.randn(*lead, *spec.obs_shape, generator=g)


def first_layer(torso: Torso) -> nn.Parameter:
    """The weight of the torso's input layer (every torso registers its input layer first)."""
    p = next(torso.parameters())
    assert p.dim() >= 2, f"{type(torso).__name__}'s first parameter is not a layer weight"
    return p


def state_rows(state: RecurrentState) -> list[int]:
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [int(state.shape[0])]
    return [r for s in state for r in state_rows(s)]


def rows(state: RecurrentState, index: torch.Tensor) -> RecurrentState:
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state[index]
    return tuple(rows(s, index) for s in state)


def differ(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool((a - b).abs().max() > 1e-6)


# --- every family, every torso ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,torso,spec_name", CASES)
def test_output_shapes(family: Family, torso: str, spec_name: str) -> None:
    net, spec = build(family, torso, spec_name)
    net.eval()
    with torch.no_grad():
        out = family.forward(net, observations(spec, B))
    assert tuple(o.shape for o in out) == tuple((B, *s) for s in family.shapes(spec))
    assert all(torch.isfinite(o).all() for o in out)
    if torso not in MEMORY:  # feed-forward: rows are independent in eval mode (no batch statistics)
        with torch.no_grad():
            one = [family.forward(net, observations(spec, B)[i:i + 1]) for i in range(B)]
        for k, o in enumerate(out):
            torch.testing.assert_close(torch.cat([x[k] for x in one]), o, atol=ATOL, rtol=0)


@pytest.mark.parametrize("family,torso,spec_name", CASES)
def test_gradients_reach_every_torso_first_layer(family: Family, torso: str, spec_name: str) -> None:
    net, spec = build(family, torso, spec_name)
    net.train()
    out = family.forward(net, observations(spec, B))
    torch.stack([o.float().pow(2).mean() for o in out]).sum().backward()
    for t in family.torsos_of(net):
        g = first_layer(t).grad
        assert g is not None and float(g.abs().sum()) > 0, type(t).__name__


def test_alphazero_rejects_memory_cores() -> None:
    with pytest.raises(ConfigError, match="feed-forward"):
        build_policy_value_net(TicTacToe(), TORSOS["mlp+lstm"])


# --- memory cores: state threading, resets, streaming = parallel ------------------------------------------------

def _memory(family: Family) -> tuple[Callable[..., tuple[Outputs, RecurrentState]],
                                     Callable[..., tuple[Outputs, RecurrentState]], Callable[[Any, int], Any]]:
    assert family.step is not None and family.sequence is not None and family.initial_state is not None
    return family.step, family.sequence, family.initial_state


@pytest.mark.parametrize("family,torso,spec_name", MEMORY_CASES)
def test_state_threading_and_shapes(family: Family, torso: str, spec_name: str) -> None:
    step, sequence, initial = _memory(family)
    net, spec = build(family, torso, spec_name)
    assert net.is_recurrent
    state = initial(net, B)
    assert state_rows(state) and set(state_rows(state)) == {B}
    obs = observations(spec, T, B)
    no_reset = torch.zeros(B, dtype=torch.bool)
    with torch.no_grad():
        out, after = step(net, obs[0], state, no_reset)
        assert tuple(o.shape for o in out) == tuple((B, *s) for s in family.shapes(spec))
        assert set(state_rows(after)) == {B}
        # The next step's output depends on the previous observation, through the carried state.
        carried, _ = step(net, obs[1], after, no_reset)
        other, _ = step(net, obs[1], step(net, obs[2], state, no_reset)[1], no_reset)
        fresh, _ = step(net, obs[1], initial(net, B), no_reset)
        assert all(differ(a, b) for a, b in zip(carried, other, strict=True))
        assert all(differ(a, b) for a, b in zip(carried, fresh, strict=True))
        seq, final = sequence(net, obs, state, torch.zeros(T, B, dtype=torch.bool))
        assert tuple(o.shape for o in seq) == tuple((T, B, *s) for s in family.shapes(spec))
        assert set(state_rows(final)) == {B}


@pytest.mark.parametrize("family,torso,spec_name", MEMORY_CASES)
def test_reset_rows_equal_a_fresh_state(family: Family, torso: str, spec_name: str) -> None:
    step, sequence, initial = _memory(family)
    net, spec = build(family, torso, spec_name)
    obs = observations(spec, T, B)
    with torch.no_grad():
        _, warm = sequence(net, obs[:-1], initial(net, B), torch.zeros(T - 1, B, dtype=torch.bool))
        reset = torch.tensor([True, False, True])
        out, _ = step(net, obs[-1], warm, reset)
        fresh, _ = step(net, obs[-1], initial(net, B), torch.zeros(B, dtype=torch.bool))
        kept, _ = step(net, obs[-1], warm, torch.zeros(B, dtype=torch.bool))
        for o, f, k in zip(out, fresh, kept, strict=True):
            torch.testing.assert_close(o[reset], f[reset], atol=ATOL, rtol=0)  # the memory is gone
            torch.testing.assert_close(o[~reset], k[~reset], atol=ATOL, rtol=0)  # other rows keep theirs
            assert differ(o[~reset], f[~reset])
        # Inside a sequence too: a reset at step 3 makes steps 3.. equal a fresh sequence started there.
        r = torch.zeros(T, B, dtype=torch.bool)
        r[3] = True
        seq, _ = sequence(net, obs, warm, r)
        tail, _ = sequence(net, obs[3:], initial(net, B), torch.zeros(T - 3, B, dtype=torch.bool))
        for s, t in zip(seq, tail, strict=True):
            torch.testing.assert_close(s[3:], t, atol=ATOL, rtol=0)


@pytest.mark.parametrize("family,torso,spec_name", MEMORY_CASES)
def test_streaming_equals_parallel_with_resets(family: Family, torso: str, spec_name: str) -> None:
    step, sequence, initial = _memory(family)
    net, spec = build(family, torso, spec_name)
    obs = observations(spec, T, B)
    reset = torch.zeros(T, B, dtype=torch.bool)
    reset[0, :] = True
    reset[2, 0] = True  # row 0 starts a new episode mid-sequence, row 1 at step 4, row 2 never again
    reset[4, 1] = True
    with torch.no_grad():
        _, start = sequence(net, observations(spec, 2, B, seed=7), initial(net, B),
                            torch.zeros(2, B, dtype=torch.bool))  # a non-trivial start state
        par, par_state = sequence(net, obs, start, reset)
        state, steps = start, []
        for t in range(T):
            out, state = step(net, obs[t], state, reset[t])
            steps.append(out)
    for k, p in enumerate(par):
        torch.testing.assert_close(torch.stack([s[k] for s in steps]), p, atol=ATOL, rtol=0)
    flat_par, flat_stream = _leaves(par_state), _leaves(state)
    assert len(flat_par) == len(flat_stream)
    for a, b in zip(flat_par, flat_stream, strict=True):
        torch.testing.assert_close(a.float(), b.float(), atol=ATOL, rtol=0)


def _leaves(state: RecurrentState) -> list[torch.Tensor]:
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    return [x for s in state for x in _leaves(s)]


@pytest.mark.parametrize("family,torso,spec_name", MEMORY_CASES)
def test_gradients_flow_through_time(family: Family, torso: str, spec_name: str) -> None:
    _, sequence, initial = _memory(family)
    net, spec = build(family, torso, spec_name)
    obs = observations(spec, T, B).requires_grad_(True)
    out, _ = sequence(net, obs, initial(net, B), torch.zeros(T, B, dtype=torch.bool))
    torch.stack([o[-1].float().pow(2).mean() for o in out]).sum().backward()  # a loss on the last step only
    for t in family.torsos_of(net):
        g = first_layer(t).grad
        assert g is not None and float(g.abs().sum()) > 0, type(t).__name__
    assert obs.grad is not None
    # Step 5's output reaches back to step 1: the attention core's receptive field is layers x (K - 1) + 1
    # = 5 steps (2 layers, a 3-step window); the LSTM / GRU state reaches further.
    assert float(obs.grad[T - 5].abs().sum()) > 0

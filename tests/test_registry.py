"""The family registry: every family's trainers resolve, and every preset belongs to exactly one family."""

from __future__ import annotations

import inspect

import pytest

from runners.families.common import to_dict
from runners.families.family import Family
from runners.families.registry import FAMILIES, PRESETS, family_of, family_of_preset, family_of_saved, presets


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("ray", [False, True], ids=["local", "ray"])
def test_trainers_resolve_with_the_common_signature(family: Family, ray: bool) -> None:
    params = inspect.signature(family.load_trainer(ray)).parameters
    assert list(params)[:2] == ["cfg", "run_dir"]
    assert {"resume", "stop_at", "console"} <= set(params)


def test_every_preset_has_one_family_that_takes_its_config() -> None:
    names = [name for f in FAMILIES for name in f.presets]
    assert len(names) == len(set(names))
    for f in FAMILIES:
        for name, make in f.presets.items():
            cfg = make()
            assert family_of(cfg) is f and family_of_preset(name) is f, name
            assert family_of_saved(to_dict(cfg)) is f, name
            # A saved config whose preset arena no longer knows is placed by its fields.
            assert family_of_saved({**to_dict(cfg), "preset": "renamed"}) is f, name


def test_commands_list_their_families_presets() -> None:
    assert set(PRESETS) == set(presets("train")) and "dqn-cartpole" in PRESETS and "gail-cartpole" in PRESETS
    assert set(presets("selfplay")) == {name for f in FAMILIES if f.command == "selfplay" for name in f.presets}
    assert not set(PRESETS) & set(presets("selfplay"))


def test_a_config_no_family_trains_is_refused() -> None:
    with pytest.raises(TypeError, match="no registered family"):
        family_of(object())


def test_configs_saved_with_every_familys_ray_options_still_load() -> None:
    """Runs saved when every family shared one set of Ray options list the DQN family's in a PPO config too."""
    from runners.families.common import from_dict
    from runners.families.pg import PGTrainConfig

    data = to_dict(PRESETS["ppo-cartpole"]())
    data["distributed"] = {**data["distributed"], "chunk_length": 32, "replay_shards": 1, "epsilon": 0.4}
    assert from_dict(PGTrainConfig, data) == PRESETS["ppo-cartpole"]()
    data["distributed"]["no_such_option"] = 1  # a typo is still refused
    with pytest.raises(ValueError, match="no_such_option"):
        from_dict(PGTrainConfig, data)

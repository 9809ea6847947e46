"""Algorithm families: configs, presets and the registry.

    family.py       ``Family``: a family's config class, presets, trainers (by entry point), resume rules
    registry.py     ``FAMILIES`` (the one registration line per family) and the lookups: preset, config, saved
                    config -> family; ``PRESETS`` (``arena train``'s), ``describe``
    common.py       config pieces every family shares (env, loop cadence, logging) and JSON round trips
    distributed.py  Ray options: shared, plus the DQN family's (Ape-X) and the on-policy and self-play families'
    dqn.py, dqn_presets.py                  the DQN family (DQN to Rainbow, R2D2)
    pg.py, pg_presets.py                    policy gradients (REINFORCE, PPO)
    imitation_presets.py                    behaviour cloning and GAIL (policy-gradient configs with demos)
    selfplay.py                             AlphaZero self-play
    league.py                               AlphaZero leagues (AlphaStar roles, PFSP)

Nothing here imports a trainer or Ray: the registry names trainers as ``"module:function"`` entry points.
"""

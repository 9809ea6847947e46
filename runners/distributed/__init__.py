"""Ray: the only folder that imports ray.

    train.py        the DQN, policy-gradient and imitation families' Ray trainer; starting or joining Ray
    connect.py      joining a cluster at --ray-address fast and quietly
    driver.py       the driver's loop, metrics, evaluation and state, shared by every topology
    pool.py         worker actors with restarts, parameter offers, lost-actor detection
    apex.py, apex_driver.py, chunk.py       Ape-X for the DQN family: workers, replay shards, learner
    onpolicy.py                             PPO / REINFORCE (and GAIL's generator): workers and learner
    selfplay.py, selfplay_actors.py         AlphaZero self-play: game workers and learner
"""

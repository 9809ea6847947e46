"""Leagues: a growing pool of frozen snapshots and learners in roles (AlphaStar, Vinyals et al. 2019,
"Grandmaster level in StarCraft II using multi-agent reinforcement learning", Nature 575).

    payoff.py   ``PayoffMatrix``: win / draw / loss counts for every pair of players (learners and
                snapshots), win rates with a prior, optional decay, Elo through ``runners.selfplay.elo``
    pfsp.py     prioritized fictitious self-play: the ``hard`` / ``variance`` / ``uniform`` weightings,
                opponent probabilities and sampling
    roles.py    ``Roster`` (who is in the league) and the roles ``MainAgent``, ``MainExploiter``,
                ``LeagueExploiter``: whom to play next, when to snapshot, whether to reset

payoff.py, pfsp.py and roles.py are pure numpy / Python bookkeeping with explicit ``np.random.Generator``s and
plain-type ``state_dict``s (they go into ``weights_only`` torch checkpoints). The exact exploitability of a fixed
policy in a small game, the league's ground-truth metric, is ``agents.bots.best_response``.

    base.py         ``LeagueBase``: the league's rules whatever its learners are (one iteration, snapshots and
                    resets, the pool, the league's Elo, anchor evaluation, checkpoint state)
    trainer.py      ``LeagueTrainer``: learners (network, optimiser, window, role), the pool of snapshots and the
                    payoff matrix; one ``iterate`` plays and trains every learner, then snapshots and resets
    ppo_trainer.py  ``PPOLeagueTrainer`` (``--league.agent ppo``): the same league over masked-PPO learners
                    (``agents.ppo.games``); ``make_league_trainer`` picks the trainer of a config
    run.py          ``run_league_local``: one league run (logs, checkpoints, signals, resume), in one process or
                    around the Ray trainer
    checkpoint.py   league checkpoints (``latest.pt``: the whole league; ``model.pt``: the first main agent)

On Ray (``--runner ray``): ``runners.distributed.league`` (``RayLeagueTrainer``, ``RayPPOLeagueTrainer``,
``run_league_ray``; only ``runners.distributed`` imports Ray) plays every learner's games of an iteration at once on
worker actors and trains the learners in a learner actor, with the rules of ``base.py``.
"""

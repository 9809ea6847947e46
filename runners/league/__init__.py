"""Leagues: a growing pool of frozen snapshots and learners in roles (AlphaStar, Vinyals et al. 2019,
"Grandmaster level in StarCraft II using multi-agent reinforcement learning", Nature 575).

    payoff.py   ``PayoffMatrix``: win / draw / loss counts for every pair of players (learners and
                snapshots), win rates with a prior, optional decay, Elo through ``runners.selfplay.elo``
    pfsp.py     prioritized fictitious self-play: the ``hard`` / ``variance`` / ``uniform`` weightings,
                opponent probabilities and sampling
    roles.py    ``Roster`` (who is in the league) and the roles ``MainAgent``, ``MainExploiter``,
                ``LeagueExploiter``: whom to play next, when to snapshot, whether to reset

Everything here is pure numpy / Python bookkeeping with explicit ``np.random.Generator``s and plain-type
``state_dict``s (they go into ``weights_only`` torch checkpoints). The exact exploitability of a fixed
policy in a small game, the league's ground-truth metric, is ``agents.bots.best_response``.

Still to come: the league trainer (learners, actors and snapshots wired to these rules) and its CLI.
"""

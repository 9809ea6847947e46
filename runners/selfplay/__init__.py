"""Self-play and two-player games.

    trainer.py      ``SelfPlayTrainer``: AlphaZero self-play games, training, gating and Elo evaluation
    run.py          one self-play run in one process (run directory, logs, checkpoints, resume, Elo plot)
    checkpoint.py   self-play checkpoints (``latest.pt``, ``model.pt``)
    match.py        games between two players, many in parallel
    players.py      trained AlphaZero networks as players; ``resolve_player`` for every player spec
    tournament.py   round robins; report.py prints, writes and plots their results
    anchors.py      anchors that grow with the agent (a ladder of ever stronger search bots)
    elo.py          Bradley-Terry Elo ratings with confidence intervals
"""

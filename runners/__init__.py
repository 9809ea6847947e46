"""runners: everything that runs agents; one folder per concern, dependencies one way (top to bottom).

    cli/            the ``arena`` command: argument parsing (parse.py) at the bottom, one module per command;
                    nothing in arena imports it
    api.py          the Python API: ``train`` (any family, one process or Ray), ``run_selfplay``, ``load_policy``
    distributed/    everything that imports ray: the Ray trainers of every family (Ape-X, on-policy, self-play)
    selfplay/       AlphaZero self-play loop, matches, players, tournaments, Elo
    local/          single-process training: one trainer per family, the shared loop, evaluation, checkpoints,
                    resume checks, logging (the one module that imports wandb), plots, signals
    families/       per family its config and presets, and the registry (``registry.FAMILIES``) that names each
                    family's trainers; ``train``, ``--help``, ``presets`` and resume look families up there

To add an algorithm family: its config and presets in families/, its trainer in local/ (and on Ray in
distributed/), a ``Family`` naming them, and one line in ``families/registry.py``. To add a command: a module in
cli/ and a line in ``cli/main.py``'s ``COMMANDS``. To add a Ray topology: a module in distributed/.
``tests/test_architecture.py`` keeps these rules (no import cycle, ray and wandb in their folders).
"""

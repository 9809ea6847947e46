"""The ``arena`` command (``runners.cli.main:main``; ``python -m runners.cli``).

    parse.py        tyro parsing with one-line errors and the config's declared ranges (every command uses it)
    runs.py         what train and selfplay share: --resume, the Ray flags' short spellings, preset and run dir
    main.py         ``arena COMMAND``: the command table and the exit codes (2: bad input, 1: aborted run,
                    130 / 143: SIGINT / SIGTERM)
    train.py, selfplay.py, evaluate.py, plot.py, presets.py, tournament.py, play.py, record.py: one per command

Commands import the library (runners.api, local/, selfplay/, families/); the library never imports the CLI.
"""

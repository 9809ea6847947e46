"""Single-process training, and what every runner shares.

    loop.py         ``run``: the loop every trainer runs in (step, learn, evaluate, checkpoint, stop on signals)
    dqn.py, pg.py   the DQN family's and the policy-gradient family's trainers (``DQNTrainer``, ``PGTrainer``)
    imitation.py    behaviour cloning and GAIL's set-up (demonstrations, discriminator)
    train.py        a whole run: run directory, logger, trainer, checkpoints, curve, summary (``train_dqn``, ...)
    envs.py         the run's env and device
    evaluate.py     evaluation episodes, videos
    checkpoint.py   atomic checkpoints, ``weights_only`` loads
    resume.py       what a resume accepts and refuses
    saved_policy.py ``load_policy`` and ``arena eval``'s evaluation of a checkpoint
    validation.py   every config's declared ranges, checked before anything is built
    logging.py      console, metrics.jsonl and wandb (the only module that imports wandb)
    plot.py         learning curves
    signals.py      SIGINT / SIGTERM: deferred to a checkpoint inside a run, one line outside
"""

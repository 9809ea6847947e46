"""``python -m runners.cli``: the ``arena`` command."""

from runners.local import signals

signals.install_startup()  # a SIGINT/SIGTERM during the imports below ends in one line (130 / 143)

from runners.cli.main import main  # noqa: E402

raise SystemExit(main())

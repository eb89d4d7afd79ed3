"""``python -m app`` is the ``borderlens`` command (used where the console script is absent)."""

from app.cli import main

main()

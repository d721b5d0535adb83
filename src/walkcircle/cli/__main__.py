"""``python -m walkcircle.cli``."""

from walkcircle.cli import main

main()

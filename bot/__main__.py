"""`python -m bot` is the same as the `voc` command."""

from bot.cli import main

main()

"""``python -m chromapal`` runs the command-line tool."""

from .cli import main

main()

"""`python -m web` runs the invsync command line."""

from web.cli import main

main()

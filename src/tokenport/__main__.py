"""`python -m tokenport` runs the tokenport command."""

from tokenport.cli import main

main()

"""`python -m bitimage.cli`."""

from bitimage.cli.main import app

app(prog_name="bitimage")

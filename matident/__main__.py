"""``python -m matident`` is the ``matident`` command."""
import sys

from .cli import main

sys.exit(main())

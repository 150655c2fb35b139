"""``python -m workflows.cli``: the ``pantau`` command."""

import sys

from workflows.cli import main

sys.exit(main())

"""``python -m pixscale`` is the ``pixscale`` command."""

import sys

from .cli import main

sys.exit(main())

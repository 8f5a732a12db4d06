"""`python -m genlab.cli`."""

import sys

from . import main

sys.exit(main())

"""``python -m mlci``."""

import sys

from mlci.cli import main

sys.exit(main())

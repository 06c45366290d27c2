"""`python -m budgetsplit ...`: see budgetsplit.cli."""

import sys

from budgetsplit.cli import main

sys.exit(main())

"""``python -m mission_planner``: run the node."""

import sys

from mission_planner.node import main

sys.exit(main())

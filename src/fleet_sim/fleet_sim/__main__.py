"""``python -m fleet_sim``: run the simulator node (same as ``ros2 run fleet_sim fleet_sim``)."""

import sys

from fleet_sim.node import main

sys.exit(main())

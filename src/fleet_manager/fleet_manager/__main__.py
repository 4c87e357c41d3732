"""``python -m fleet_manager``: run the node (same as ``ros2 run fleet_manager fleet_manager``)."""

import sys

from fleet_manager.node import main

sys.exit(main())

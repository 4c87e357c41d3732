"""``python -m telemetry_recorder``: run the node."""

import sys

from telemetry_recorder.node import main

sys.exit(main())

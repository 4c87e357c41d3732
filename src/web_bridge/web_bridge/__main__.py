"""``python -m web_bridge``: serve the API."""

import sys

from web_bridge.server import main

sys.exit(main())

"""Alembic migrations of the fleet database (run with ``alembic -c alembic.ini``)."""

from __future__ import annotations

import re
from typing import Any

from geoalchemy2.alembic_helpers import include_object as _include_spatial_object

# Daily partitions are created at run time (fleet_db.partitions), never by migrations, so
# autogenerate must not propose to drop them.
_PARTITION = re.compile(r"^telemetry_p\d{8}$")


def include_object(obj: Any, name: str | None, obj_type: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Leave PostGIS's own tables and the telemetry partitions out of autogenerate."""
    if obj_type == "table" and name is not None and _PARTITION.match(name):
        return False
    return bool(_include_spatial_object(  # type: ignore[no-untyped-call]
        obj, name, obj_type, reflected, compare_to))

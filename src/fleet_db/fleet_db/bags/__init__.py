"""rosbag2 (MCAP) export of telemetry slices as MAVROS topics, and import of MAVROS bags.

An exported bag looks like ``ros2 bag record`` next to MAVROS: per vehicle the original topic
names (``/<vehicle>/mavros/...``), types, message definitions, RIHS01 hashes and offered QoS
profiles, with header stamps and log times equal to the sample time. Each stored row becomes
one message per topic it has a value for, the position fix written last so that an import
(which merges the topics again with :class:`~fleet_db.merge.SampleMerger`) rebuilds exactly
the same rows. The mission a row belongs to travels on ``/<vehicle>/fleet/mission_id``
(std_msgs/String, written when it changes), since MAVROS has no topic for it.

One module per reason to change: ``topics`` (names, types and QoS, from
fleet_core.mavros_topics), ``messages`` (a row as messages and back), ``slices`` (which rows,
read from the database), ``export`` and ``importing`` (bag files and the database writes).
"""

from fleet_db.bags.errors import BagError
from fleet_db.bags.export import ExportSummary, export_bag, write_bag
from fleet_db.bags.importing import BagSamples, ImportSummary, import_bag
from fleet_db.bags.messages import SliceMessage, sample_messages, samples_to_messages
from fleet_db.bags.slices import (
    SliceBounds,
    iter_samples,
    iter_slice_messages,
    mission_slice,
    resolve_slice,
)
from fleet_db.bags.topics import (
    BATTERY,
    EXTENDED_STATE,
    FIX,
    HEADING,
    MISSION,
    REL_ALT,
    STATE,
    TOPICS,
    VELOCITY,
    TopicSpec,
    parse_topic,
)

__all__ = [
    "BATTERY", "EXTENDED_STATE", "FIX", "HEADING", "MISSION", "REL_ALT", "STATE", "TOPICS",
    "VELOCITY", "BagError", "BagSamples", "ExportSummary", "ImportSummary", "SliceBounds",
    "SliceMessage", "TopicSpec", "export_bag", "import_bag", "iter_samples",
    "iter_slice_messages", "mission_slice", "parse_topic", "resolve_slice", "sample_messages",
    "samples_to_messages", "write_bag",
]

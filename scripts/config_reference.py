"""Write docs/configuration.md from the code: node parameters, YAML keys, web_bridge settings.

    python scripts/config_reference.py --write      # or: ... > docs/configuration.md

Node parameters come from the nodes: each is created in a private Context with DDS discovery
off (invisible to any running graph; no database needed), and its declare_parameter calls
are recorded (name, default) beside what it then holds (description). YAML keys come from
the Key trees the loaders validate with (fleet_core's fleet/config.py, sim/config.py,
missions_config.py); web_bridge's settings from its pydantic model.
tests/test_configuration_reference.py fails when the file is out of date.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rclpy
import yaml
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from rclpy.context import Context
from rclpy.impl.logging_severity import LoggingSeverity
from rclpy.logging import set_logger_level
from rclpy.node import Node
from rclpy.parameter import Parameter

from fleet_core.fleet.config import FLEET_KEYS
from fleet_core.missions_config import MISSIONS_KEYS
from fleet_core.sim.config import FLEET_SIM_KEYS, STATION_KEYS, STATIONS
from fleet_core.yaml_config import POSITION_KEYS, Default, Key, KeyType
from fleet_manager.node import FleetManagerNode
from fleet_sim.node import FleetSimNode
from mission_planner.node import MissionPlannerNode
from telemetry_recorder.node import TelemetryRecorderNode
from web_bridge.ros import BridgeNode
from web_bridge.settings import Settings

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "configuration.md"
COMMAND = "python scripts/config_reference.py --write"
CONFIG = REPO / "config"

# Units of names that carry their unit as a suffix (the project's naming rule); the YAML keys
# state theirs explicitly.
_SUFFIX_UNITS = (
    ("_per_minute", "1/min"), ("_per_second", "1/s"), ("_bytes", "bytes"), ("_kib", "KiB"),
    ("_ms", "ms"), ("_hz", "Hz"), ("_mps", "m/s"), ("_deg", "deg"), ("_percent", "%"),
    ("_days", "days"), ("_wh", "Wh"), ("_kg", "kg"), ("_m", "m"), ("_s", "s"),
)
_PARAMETER_TYPES = {
    Parameter.Type.BOOL: "bool", Parameter.Type.INTEGER: "integer",
    Parameter.Type.DOUBLE: "double", Parameter.Type.STRING: "string",
    Parameter.Type.STRING_ARRAY: "string[]", Parameter.Type.INTEGER_ARRAY: "integer[]",
    Parameter.Type.DOUBLE_ARRAY: "double[]", Parameter.Type.BOOL_ARRAY: "bool[]",
}
_SETTING_TYPES: dict[object, str] = {
    str: "string", int: "integer", float: "number", bool: "boolean", Path: "path",
    SecretStr: "secret string",
}


def unit_of(name: str) -> str:
    """Return the unit a name's suffix states, or ""."""
    return next((unit for suffix, unit in _SUFFIX_UNITS if name.endswith(suffix)), "")


def cell(text: object) -> str:
    """Return ``text`` fit for one cell of a Markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def code(value: object) -> str:
    """Return a value as YAML-like inline code."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | list):
        text = json.dumps(value)
    else:
        text = str(value)
    return f"`{text}`"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Return the lines of a Markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows), ""]


# ------------------------------------------------------------------------- node parameters

@dataclass(frozen=True)
class NodeParameter:
    """One parameter as a node declares it."""

    name: str
    type: str
    default: object
    description: str


@dataclass(frozen=True)
class NodeReport:
    """What one node declares, and rclpy's own parameters it has too."""

    name: str
    parameters: tuple[NodeParameter, ...]
    builtin: tuple[NodeParameter, ...]


def declared_parameters(node_class: type[Node], **kwargs: Any) -> NodeReport:
    """Create ``node_class`` in a private Context and return the parameters it declares."""
    defaults: dict[str, Any] = {}

    def declare_parameter(self: Node, name: str, value: Any = None, *args: Any,
                          **kw: Any) -> Any:
        defaults[name] = value
        return node_class.declare_parameter(self, name, value, *args, **kw)

    # A subclass records the defaults as declared (what the node holds may be an override).
    probe = types.new_class(node_class.__name__, (node_class,), {},
                            lambda ns: ns.update(declare_parameter=declare_parameter))
    context = Context()
    rclpy.init(context=context)
    try:
        builtin_names = _builtin_names(context)
        node = probe(context=context, **kwargs)
        try:
            found = []
            for name in node._parameters:  # every name the node holds
                descriptor = node.describe_parameter(name)
                kind = Parameter.Type.from_parameter_value(defaults.get(name))
                found.append(NodeParameter(name, _PARAMETER_TYPES.get(kind, kind.name.lower()),
                                           defaults.get(name), descriptor.description))
            return NodeReport(node.get_name(),
                              tuple(p for p in found if p.name not in builtin_names),
                              tuple(p for p in found if p.name in builtin_names))
        finally:
            node.destroy_node()
    finally:
        context.try_shutdown()


def _builtin_names(context: Context) -> set[str]:
    plain = Node("config_reference_probe", context=context)
    try:
        return set(plain._parameters)
    finally:
        plain.destroy_node()


@contextlib.contextmanager
def discovery_off() -> Iterator[None]:
    """Keep the contexts initialised meanwhile out of every graph: rcl reads the discovery
    range when a context is initialised, and the nodes made here must not be seen by a
    running fleet (fleet_sim would announce its vehicles)."""
    old = os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE")
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "OFF"
    try:
        yield
    finally:
        if old is None:
            del os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"]
        else:
            os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = old


def node_reports(scratch: Path) -> list[NodeReport]:
    """Return the parameters of every node of the graph."""
    for name in ("fleet_sim", "fleet_manager", "mission_planner", "telemetry_recorder",
                 "web_bridge_reference"):
        set_logger_level(name, LoggingSeverity.ERROR)

    def files(**names: str) -> list[Parameter[Any]]:
        return [Parameter(k, value=str(CONFIG / v)) for k, v in names.items()]

    bridge_settings = Settings.model_construct(instance_id="reference")
    return [
        declared_parameters(FleetSimNode, parameter_overrides=files(config_file="fleet_sim.yaml")),
        declared_parameters(FleetManagerNode, parameter_overrides=files(config_file="fleet.yaml")),
        declared_parameters(MissionPlannerNode, parameter_overrides=files(
            config_file="missions.yaml", fleet_config_file="fleet.yaml")),
        # No database here: the recorder starts spooling into the scratch directory.
        declared_parameters(TelemetryRecorderNode, parameter_overrides=[
            *files(fleet_config_file="fleet.yaml"),
            Parameter("database_url", value="postgresql+psycopg://reference@127.0.0.1:1/none"),
            Parameter("spool_dir", value=str(scratch / "spool"))]),
        declared_parameters(BridgeNode, settings=bridge_settings, sink=lambda *_: None),
    ]


def render_nodes(reports: Sequence[NodeReport]) -> list[str]:
    """Return the node parameter section."""
    out = ["## Node parameters", "",
           "Given as `--ros-args -p name:=value`, as launch arguments (launch/*.launch.py) or in "
           "a parameters file (`--params-file`, such as config/recorder.yaml). They are read "
           "once at start-up: a later change is refused, not ignored. A bad value stops the "
           "node with exit code 2 and one line naming the parameter.", ""]
    for report in reports:
        name = report.name.replace("_reference", "_<instance_id>")
        out += [f"### {name}", ""]
        if not report.parameters:
            out += ["Declares no parameters of its own: web_bridge is configured by the "
                    "environment (see [web_bridge settings](#web_bridge-settings)).", ""]
            continue
        out += table(("Parameter", "Type", "Default", "Unit", "Meaning"), [
            (f"`{p.name}`", p.type, code(p.default), unit_of(p.name), p.description)
            for p in report.parameters])
    builtin = reports[0].builtin
    out += ["Every node also has rclpy's own parameters: " + "; ".join(
        f"`{p.name}` ({p.type}, default {code(p.default)}"
        + (f": {p.description.rstrip('.')}" if p.description else "") + ")"
        for p in builtin) + ".", ""]
    return out


# ------------------------------------------------------------------------------- YAML keys

def _type(key: Key) -> str:
    if key.type is KeyType.CHOICE:
        return "one of " + ", ".join(f"`{c}`" for c in key.choices)
    if key.type is KeyType.LIST and key.keys == POSITION_KEYS:
        return "list of positions"
    return str(key.type)


def _default(key: Key) -> str:
    if key.default is Default.REQUIRED:
        return "required"
    if key.default is Default.NONE:
        return "—"
    return code(key.default)


def key_rows(keys: Sequence[Key], prefix: str,
             seen: dict[int, str]) -> Iterator[tuple[str, str, str, str, str]]:
    """Yield a row per key below ``prefix``; a key set met before is referred to, not
    repeated, and a position's keys are described once (see the conventions)."""
    for key in keys:
        path = f"{prefix}{key.name}"
        doc = key.doc
        expand = key.keys and key.type in (KeyType.SECTION, KeyType.LIST, KeyType.NAMED) \
            and key.keys != POSITION_KEYS
        if expand and id(key.keys) in seen:
            doc = f"{doc} (keys as `{seen[id(key.keys)]}`)"
            expand = False
        if key.type is KeyType.STATIONS:
            doc = f"{doc}; keys in [stations.yaml](#configstationsyaml)"
        yield f"`{path}`", _type(key), _default(key), key.unit, doc
        if expand:
            seen[id(key.keys)] = path
            inner = {KeyType.LIST: f"{path}[].", KeyType.NAMED: f"{path}.<name>."}
            yield from key_rows(key.keys, inner.get(key.type, f"{path}."), seen)


def key_table(keys: Sequence[Key], prefix: str = "") -> list[str]:
    """Return the table of ``keys`` and every key below them."""
    return table(("Key", "Type", "Default", "Unit", "Meaning"),
                 list(key_rows(keys, prefix, {})))


_FILES = (
    ("config/fleet_sim.yaml", FLEET_SIM_KEYS, "fleet_sim (parameter `config_file`)"),
    ("config/fleet.yaml", FLEET_KEYS, "fleet_manager (parameter `config_file`), "
     "mission_planner and telemetry_recorder (parameter `fleet_config_file`)"),
    ("config/missions.yaml", MISSIONS_KEYS, "mission_planner (parameter `config_file`)"),
)


def render_files(recorder: NodeReport) -> list[str]:
    """Return the config file section."""
    out = ["## Config files", "",
           "Each file is validated whole when its node starts: an unknown key, a value of the "
           "wrong type or out of range stops the node with exit code 2 and one line naming "
           "the file and the key (such as `fleet_sim.vehicles[1].limits.cruise_speed`). "
           "Empty file parameters take the installed copy (share/<package>/config/).", "",
           "Conventions: distances in metres, times in seconds, angles in degrees, speeds in "
           "m/s; `[]` is each item of a list, `<name>` each entry of a mapping of names. A "
           "*position* is a mapping of:", ""]
    out += key_table(POSITION_KEYS)
    for path, root, readers in _FILES:
        out += [f"### {path}", "", f"{root.doc}. Read by {readers}; every key sits under "
                f"`{root.name}:`.", ""]
        out += key_table(root.keys)
    stations = Key(STATIONS.name, KeyType.LIST, "the stations", keys=STATION_KEYS)
    out += ["### config/stations.yaml", "",
            "The charging stations of the whole graph: fleet_sim charges vehicles landed on "
            "their pads, fleet_manager draws them, mission_planner queues vehicles for them. "
            "fleet_sim.yaml, fleet.yaml and missions.yaml name this file "
            "(`charging_stations: stations.yaml`, relative to themselves); any of them may "
            "hold the list inline instead.", ""]
    out += key_table((stations,))
    out += render_recorder_file(recorder)
    return out


def render_recorder_file(recorder: NodeReport) -> list[str]:
    """Describe config/recorder.yaml; raise if it sets a parameter the recorder lacks."""
    raw = yaml.safe_load((CONFIG / "recorder.yaml").read_text(encoding="utf-8")) or {}
    section = raw.get(recorder.name, raw.get("/**", {})) if isinstance(raw, dict) else {}
    values = (section or {}).get("ros__parameters") or {}
    names = {p.name for p in recorder.parameters}
    unknown = sorted(set(values) - names)
    if unknown:
        raise SystemExit(f"config/recorder.yaml: unknown telemetry_recorder parameters "
                         f"{unknown} (known: {sorted(names)})")
    listed = ", ".join(f"`{k}`" for k in values) if values else "none (all take their defaults)"
    return ["### config/recorder.yaml", "",
            "A ROS 2 parameters file for telemetry_recorder (`telemetry_recorder: "
            "{ros__parameters: {...}}`, given with `--params-file`): its keys are the "
            "[telemetry_recorder parameters](#telemetry_recorder). The shipped file sets: "
            f"{listed}.", ""]


# ------------------------------------------------------------------------ web_bridge

def _setting_type(info: FieldInfo) -> str:
    annotation = info.annotation
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    if args:
        annotation = args[0]
    return _SETTING_TYPES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _setting_default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        return "computed"
    return "none" if info.default is None else code(info.default)


_BOUNDS = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")


def _allowed(info: FieldInfo) -> str:
    """Return the range a setting's constraints allow, in words."""
    b = {name: getattr(m, name) for m in info.metadata for name in _BOUNDS
         if getattr(m, name, None) is not None}
    parts = []
    if "ge" in b and "le" in b:
        parts.append(f"{b['ge']}..{b['le']}")
    else:
        parts += [f"{sign} {b[name]}" for name, sign in
                  (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")) if name in b]
    if "min_length" in b or "max_length" in b:
        parts.append(f"{b.get('min_length', 0)}..{b.get('max_length', '')} characters")
    if "pattern" in b:
        parts.append(f"matches `{b['pattern']}`")
    return ", ".join(parts)


def render_settings() -> list[str]:
    """Return the web_bridge settings section."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    rows = [(f"`{prefix}{name.upper()}`", _setting_type(info), _setting_default(info),
             unit_of(name), _allowed(info), info.description or "")
            for name, info in Settings.model_fields.items()]
    return ["## web_bridge settings", "",
            f"Environment variables (prefix `{prefix}`), read once at start-up; a missing or "
            "invalid one stops web_bridge with a message naming the variable (never a "
            "secret's value). `FLEET_DATABASE_URL` also tells telemetry_recorder, the "
            "migrations and the admin commands where the database is.", "",
            *table(("Variable", "Type", "Default", "Unit", "Allowed", "Meaning"), rows)]


# -------------------------------------------------------------------------------- main

def render() -> str:
    """Return the whole of docs/configuration.md."""
    with tempfile.TemporaryDirectory(prefix="config-reference-") as scratch, discovery_off():
        reports = node_reports(Path(scratch))
    recorder = next(r for r in reports if r.name == "telemetry_recorder")
    lines = ["# Configuration reference", "",
             f"Generated from the code by `{COMMAND}`; do not edit by hand "
             "(tests/test_configuration_reference.py fails when it is out of date).", "",
             "The graph is configured in three places: ROS parameters of each node, the YAML "
             "config files those parameters name, and environment variables of web_bridge.",
             "", *render_nodes(reports), *render_files(recorder), *render_settings()]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None, write: Callable[[str], object] = sys.stdout.write
         ) -> int:
    """Print the reference, or write it to docs/configuration.md with --write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT.relative_to(REPO)}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        OUTPUT.write_text(text, encoding="utf-8")
    else:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

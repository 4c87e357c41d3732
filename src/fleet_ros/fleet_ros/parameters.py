"""Parameters every fleet node declares alike."""

from __future__ import annotations

from rclpy.node import Node

from fleet_core.errors import ConfigError
from fleet_ros.entry import installed_config, read_only


def config_file_parameter(node: Node, package: str, file_name: str, about: str, *,
                          name: str = "config_file") -> str:
    """Declare the read-only parameter ``name`` naming a YAML file and return the file to read.

    An empty value means ``package``'s installed ``config/<file_name>``; ConfigError if that
    is not installed either. ``about`` says what the file holds, for ``ros2 param describe``.
    """
    node.declare_parameter(name, "", read_only(
        f"{about}; empty uses the installed {package} config/{file_name}"))
    path = node.get_parameter(name).value or installed_config(package, file_name)
    if not path:
        raise ConfigError(f"parameter {name} is empty and no installed {file_name} was found")
    return str(path)

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "fleet_bringup"
WORKSPACE = Path(__file__).resolve().parents[2]


def workspace_files(folder: str, *patterns: str) -> list[str]:
    """The workspace's ``folder/<pattern>`` files, as paths relative to this package."""
    return sorted(f"../../{folder}/{name}" for pattern in patterns
                  for name in glob(pattern, root_dir=WORKSPACE / folder))


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        # The workspace's launch/ and config/ stay the one source (the README runs them by
        # path); installed, `ros2 launch fleet_bringup fleet.launch.py` finds them, and a
        # launch file finds its configs in ../config either way.
        (f"share/{PACKAGE}/launch", workspace_files("launch", "*.launch.py")),
        (f"share/{PACKAGE}/config", workspace_files("config", "*.yaml", "*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Fleet maintainers",
    maintainer_email="fleet-maintainers@example.com",
    description="Bring-up of the whole fleet graph: launch files, shipped configs, the demo.",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"demo = {PACKAGE}.demo:main"]},
)

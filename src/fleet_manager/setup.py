from setuptools import find_packages, setup

PACKAGE = "fleet_manager"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        # The workspace's config/ is the one source of the default fleet configuration.
        (f"share/{PACKAGE}/config", ["../../config/fleet.yaml", "../../config/stations.yaml",
                                     "../../config/fleet.rviz"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Fleet maintainers",
    maintainer_email="fleet-maintainers@example.com",
    description="The live fleet picture and coordination node.",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"fleet_manager = {PACKAGE}.node:main"]},
)

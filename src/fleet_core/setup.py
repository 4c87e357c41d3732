from setuptools import find_packages, setup

PACKAGE = "fleet_core"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools", "pyyaml", "numpy", "shapely", "pyproj"],
    zip_safe=True,
    maintainer="Fleet maintainers",
    maintainer_email="fleet-maintainers@example.com",
    description="ROS-free domain logic of the fleet stack.",
    license="Apache-2.0",
)

from setuptools import find_packages, setup

PACKAGE = "fleet_db"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=[
        "setuptools", "pyyaml", "sqlalchemy", "geoalchemy2", "psycopg", "alembic", "rosbags",
    ],
    zip_safe=True,
    maintainer="Fleet maintainers",
    maintainer_email="fleet-maintainers@example.com",
    description="ROS-free persistence of the fleet stack: PostGIS schema, ingest, queries, bags.",
    license="Apache-2.0",
)

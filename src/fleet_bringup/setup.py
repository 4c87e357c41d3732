from setuptools import find_packages, setup

PACKAGE = "fleet_bringup"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Fleet maintainers",
    maintainer_email="fleet-maintainers@example.com",
    description="Bring-up of the whole fleet graph; the one-process demo.",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"demo = {PACKAGE}.demo:main"]},
)

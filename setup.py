"""Package discovery for the `thinfile` package, whose stage folders sit at the repository's top level.

pyproject.toml holds the metadata; this only maps `thinfile.features|training|serving` onto features/,
training/ and serving/ and finds every package below them (data folders such as schemas/ and templates/
included), so nothing needs listing.
"""

from setuptools import find_namespace_packages, setup

STAGES = ("features", "training", "serving")
package_dir = {"thinfile": "thinfile", **{f"thinfile.{stage}": stage for stage in STAGES}}
SKIP = ["*__pycache__*"]
packages = ["thinfile", *(f"thinfile.{p}" for p in find_namespace_packages("thinfile", exclude=SKIP))]
for stage in STAGES:
    packages += [f"thinfile.{stage}", *(f"thinfile.{stage}.{p}" for p in find_namespace_packages(stage, exclude=SKIP))]

setup(package_dir=package_dir, packages=packages)

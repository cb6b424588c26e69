"""The lock files agree with pyproject.toml: every declared dependency is pinned inside its range, every pin carries
hashes, the images and CI install the same versions, and python-jose's unused pure-Python backends (ecdsa among them)
are in no lock. `make lock` regenerates them; this test says when someone forgot to."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"
NEVER_LOCKED = {"ecdsa", "rsa", "pyasn1", "ffmpeg-python", "future"}


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: tuple[str, ...]


def read_lock(path: Path) -> dict[str, list[Pin]]:
    """name -> its pins (a universal lock may pin a package twice, under different markers)."""
    pins: dict[str, list[Pin]] = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *hashes = re.split(r"\s+--hash=", line.strip())
        requirement = Requirement(spec)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {spec} is not an exact pin"
        pins.setdefault(canonicalize_name(requirement.name), []).append(Pin(Version(specifier.version), tuple(hashes)))
    return pins


def declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    found = [Requirement(spec) for spec in project["dependencies"]]
    for extra in extras:
        found += [Requirement(spec) for spec in project["optional-dependencies"][extra]]
    return found


def with_extras_requirements(requirements: list[Requirement]) -> list[Requirement]:
    """The declared requirements plus what their extras pull in (python-jose[cryptography] -> cryptography)."""
    found = list(requirements)
    for requirement in requirements:
        for extra in requirement.extras:
            for spec in importlib.metadata.requires(requirement.name) or []:
                pulled = Requirement(spec)
                if pulled.marker is not None and pulled.marker.evaluate({"extra": extra}):
                    found.append(Requirement(f"{pulled.name}{pulled.specifier}"))
    return found


def assert_pinned_within_ranges(lock: Path, requirements: list[Requirement]) -> None:
    pins = read_lock(lock)
    for requirement in with_extras_requirements(requirements):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared but not in {lock.name}: run make lock"
        for pin in pins[name]:
            assert requirement.specifier.contains(pin.version, prereleases=True), (
                f"{lock.name} pins {name}=={pin.version}, outside pyproject.toml's {requirement}: run make lock"
            )


def test_every_runtime_dependency_is_pinned_in_the_image_lock_within_its_range() -> None:
    assert_pinned_within_ranges(RUNTIME_LOCK, declared())


def test_every_runtime_dev_and_local_dependency_is_pinned_in_the_dev_lock_within_its_range() -> None:
    assert_pinned_within_ranges(DEV_LOCK, declared("dev", "local"))


def test_the_build_requirements_are_pinned_in_the_build_lock_within_their_ranges() -> None:
    assert_pinned_within_ranges(BUILD_LOCK, [Requirement(spec) for spec in PYPROJECT["build-system"]["requires"]])


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK, BUILD_LOCK], ids=lambda path: path.name)
def test_every_pin_carries_sha256_hashes(lock: Path) -> None:
    pins = read_lock(lock)
    assert pins
    for name, entries in pins.items():
        for pin in entries:
            assert pin.hashes, f"{lock.name}: {name}=={pin.version} has no --hash"
            assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", digest) for digest in pin.hashes), name


def test_ci_tests_the_versions_the_images_ship() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    for name, pins in runtime.items():
        assert name in dev, f"{name} is in the image lock but not in the dev lock: run make lock"
        assert {pin.version for pin in pins} == {pin.version for pin in dev[name]}, (
            f"{name}: the images and CI would install different versions: run make lock"
        )


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK, BUILD_LOCK], ids=lambda path: path.name)
def test_unused_and_vulnerable_packages_are_in_no_lock(lock: Path) -> None:
    assert not NEVER_LOCKED & read_lock(lock).keys()


def test_the_image_installs_third_party_packages_only_from_the_hashed_locks() -> None:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs
    for command in installs:
        assert "--require-hashes" in command or command.rstrip(" \\").endswith("--no-deps --no-build-isolation ."), (
            command
        )
    assert "-r requirements.lock" in dockerfile
    assert "-r requirements-build.lock" in dockerfile

"""docker/: the compose file, its .env.example, the Dockerfile and the README's commands.

Docker cannot run here, so the files are parsed and checked for what would break a
deployment: missing services, unpinned images, services without health checks, variables
that are never set, ``PANTAU_*`` settings that no settings class reads, README commands that
name services or options that do not exist.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from stac.settings import StacSettings
from tiles.settings import TilesSettings
from workflows.cli import build_parser
from workflows.settings import WorkflowSettings

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = "docker compose -f docker/compose.yml"
SETTINGS = (StacSettings, TilesSettings, WorkflowSettings)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / ".ci" / "stac-server.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"\[.*\]", "", name).strip().lower()] = version.strip()
    return pins


def _setting_names() -> set[str]:
    names = set()
    for cls in SETTINGS:
        prefix = cls.model_config["env_prefix"]
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


def test_the_stack_has_every_service(services: dict[str, Any]) -> None:
    assert {"pgstac", "stac", "tiles", "scheduler", "worker-1", "worker-2"} <= set(services)


def test_workers_point_at_the_scheduler(services: dict[str, Any]) -> None:
    for name in ("worker-1", "worker-2"):
        assert services[name]["command"][:3] == ["dask", "worker", "tcp://scheduler:8786"]
    assert services["scheduler"]["command"][:4] == ["dask", "scheduler", "--port", "8786"]


def test_workers_tiles_and_cli_share_the_products_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("tiles", "scheduler", "worker-1", "worker-2", "cli"):
        assert "products:/data/products" in services[name]["volumes"], name
    assert "products" in compose["volumes"] and "pgdata" in compose["volumes"]


def test_every_long_running_service_has_a_health_check(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if "cli" in service.get("profiles", []):
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"service {name} has no healthcheck"


def test_services_wait_for_healthy_dependencies(services: dict[str, Any]) -> None:
    assert services["stac"]["depends_on"]["pgstac"]["condition"] == "service_healthy"
    for name in ("worker-1", "worker-2"):
        assert services[name]["depends_on"]["scheduler"]["condition"] == "service_healthy"


def test_images_are_pinned_to_exact_versions(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        assert image, f"service {name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: image {image!r} is not pinned"
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: tag {tag!r} is not exact"


def test_server_images_match_the_versions_the_tests_run(services: dict[str, Any]) -> None:
    pins = _pins()
    assert services["pgstac"]["image"] == f"ghcr.io/stac-utils/pgstac:v{pins['pypgstac']}"
    assert services["stac"]["image"] == (
        f"ghcr.io/stac-utils/stac-fastapi-pgstac:{pins['stac-fastapi.pgstac']}"
    )


def test_transactions_are_enabled_for_publishing(services: dict[str, Any], env_example) -> None:
    value = services["stac"]["environment"]["ENABLE_TRANSACTIONS_EXTENSIONS"]
    assert (
        value == "${STAC_ENABLE_TRANSACTIONS}" and env_example["STAC_ENABLE_TRANSACTIONS"] == "true"
    )


def test_every_compose_variable_is_in_env_example(env_example: dict[str, str]) -> None:
    text = (DOCKER / "compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)\}", text))
    assert used, "compose.yml uses no ${VARIABLE}; the .env.example check would be empty"
    assert used <= set(env_example), f"not in .env.example: {sorted(used - set(env_example))}"
    assert set(env_example) <= used, f"unused in compose: {sorted(set(env_example) - used)}"


def test_every_env_example_variable_is_documented() -> None:
    # each variable belongs to a block of lines (no blank line between) led by a comment
    block_has_comment = False
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if not line.strip():
            block_has_comment = False
        elif line.startswith("#"):
            block_has_comment = True
        else:
            assert block_has_comment, f"{line!r} has no comment in its block"


def test_pantau_variables_exist_in_the_settings_classes(services, env_example) -> None:
    known = _setting_names()
    set_in_compose = {
        key for service in services.values() for key in service.get("environment", {})
    }
    pantau = {k for k in set_in_compose | set(env_example) if k.startswith("PANTAU_")}
    assert pantau, "no PANTAU_* setting at all; the check would be empty"
    assert pantau <= known, f"no settings class reads {sorted(pantau - known)}"


def test_unknown_setting_would_be_caught() -> None:
    assert "PANTAU_TILES_PRODUCTS_DIR" in _setting_names()
    assert "PANTAU_TILES_PRODUCT_DIR" not in _setting_names()


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, flags=re.MULTILINE)
    assert [name for _, name in stages] == ["build", "runtime"]
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.MULTILINE)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base[1])
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER pantau$", runtime, flags=re.MULTILINE)
    assert "COPY --from=build /opt/pantau /opt/pantau" in runtime
    assert "apt-get" not in text and "libgdal" not in text  # GDAL comes from the wheels
    for package in ("geo", "simulate", "stac", "tiles", "workflows"):
        assert f"COPY {package} {package}" in text


def _readme_docker_block() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Docker\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block, "README's Docker section has no ```bash block"
    return [line for line in block[1].splitlines() if line.strip()]


def test_readme_docker_commands_are_what_a_user_types(services, env_example) -> None:
    lines = _readme_docker_block()
    assert lines[0] == "cp docker/.env.example docker/.env"
    assert lines[1] == f"{COMPOSE} up -d --build --wait"
    assert lines[-1] == f"{COMPOSE} down"
    parser = build_parser()
    for line in lines[2:-1]:
        assert line.startswith(f"{COMPOSE} run --rm "), line
        words = shlex.split(line)[len(shlex.split(COMPOSE)) + 2 :]
        service, program, args = words[0], words[1], words[2:]
        assert service in services and program == "pantau", line
        parsed = parser.parse_args(args)  # exits (fails the test) on an unknown option
        if getattr(parsed, "stac", "").startswith("http"):
            assert parsed.stac == "http://stac:8082/"
        scheduler = getattr(parsed, "scheduler", None)
        assert scheduler in (None, "tcp://scheduler:8786")


def test_readme_urls_match_the_published_ports(env_example: dict[str, str]) -> None:
    readme = (REPO / "README.md").read_text().split("\n## Docker\n", 1)[1].split("\n## ", 1)[0]
    for key in ("TILES_PORT", "STAC_PORT", "DASK_DASHBOARD_PORT"):
        assert f"http://127.0.0.1:{env_example[key]}/" in readme, key

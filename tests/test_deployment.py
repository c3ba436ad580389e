"""Docker cannot run on the test machines: keep docker-compose.yml and the Dockerfile honest by reading them."""

from pathlib import Path

import yaml

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_of_a_production_deployment() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "valkey", "migrate", "api", "worker"}
    assert services["postgres"]["image"].startswith("postgres:17")
    assert services["valkey"]["image"].startswith("valkey/valkey:8")
    for name in ("postgres", "valkey", "api"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a health check"
    assert services["migrate"]["command"] == ["lxt", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker"):
        assert services[name]["build"] == "."
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert set(compose()["volumes"]) == {"postgres-data", "valkey-data"}


def test_worker_can_be_scaled() -> None:
    worker = compose()["services"]["worker"]
    # --scale needs services without fixed container names or published ports.
    assert "container_name" not in worker
    assert "ports" not in worker


def test_every_variable_is_a_setting_and_urls_point_at_the_services() -> None:
    known = {f"LXT_{name.upper()}" for name in Settings.__struct_fields__}
    for name in ("migrate", "api", "worker"):
        env = compose()["services"][name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name}: {unknown} are not settings"
        assert "@postgres:5432/" in env["LXT_DATABASE_URL"]
        assert env["LXT_REDIS_URL"].startswith("redis://valkey:6379")
        # Settings parse as the container would see them (compose substitutes ${VAR:-default}).
        resolved = {k: str(v).split(":-", 1)[-1].rstrip("}") if "${" in str(v) else str(v) for k, v in env.items()}
        Settings.from_env(resolved)


def test_dockerfile_installs_the_project_and_runs_lxt() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile
    assert 'CMD ["lxt", "serve"]' in dockerfile
    assert "USER lxt" in dockerfile

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_run_embedded_on_localhost() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.data_path.name == ".lxt"


def test_environment_values_are_converted() -> None:
    settings = Settings.from_env(
        {
            "LXT_DATABASE_URL": "postgresql://db/lxt",
            "LXT_REDIS_URL": "redis://cache:6379/0",
            "LXT_PORT": "9000",
            "LXT_KEY_CACHE_SECONDS": "2.5",
            "LXT_PUBLIC_BASE_URL": "https://lxt.example/",
            "PATH": "/usr/bin",
        }
    )
    assert not settings.embedded
    assert settings.port == 9000
    assert settings.key_cache_seconds == 2.5
    assert settings.base_url == "https://lxt.example"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LXT_PORT": "eighty"}, "LXT_PORT: Expected `int`"),
        ({"LXT_PORT": "70000"}, "LXT_PORT: Expected `int` <= 65535"),
        ({"LXT_LOG_LEVEL": "LOUD"}, "LXT_LOG_LEVEL"),
        ({"LXT_DATABSE_URL": "postgresql://x"}, "unknown setting(s): LXT_DATABSE_URL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_test_and_bench_variables_are_not_settings() -> None:
    assert Settings.from_env({"LXT_TEST_DATABASE_URL": "x", "LXT_BENCH_SECONDS": "3"}).database_url == ""


def test_readme_documents_every_setting() -> None:
    assert settings_table() in README.read_text(), "README's settings table is stale: paste `lxt settings`"

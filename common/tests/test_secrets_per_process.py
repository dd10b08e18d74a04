"""Each process holds only the secrets it needs: the internet-facing gateway no data key and no
database login; no service the schemas' owner login."""

from __future__ import annotations

from pathlib import Path

from common.registry import WITH_DATABASE, load
from gateway.settings import GatewaySettings

ENV = Path(__file__).resolve().parents[2] / "deploy/env"
DATA_SECRETS = {"MASTER_KEYS", "DATABASE_URL", "MIGRATION_DATABASE_URL",
                "DATA_ENCRYPTION_KEY", "LOOKUP_HASH_KEY"}


def names(env_file: str) -> set[str]:
    lines = (ENV / env_file).read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def test_the_gateway_settings_have_no_data_key_and_no_database_login():
    assert not DATA_SECRETS & set(GatewaySettings.model_fields)


def test_each_process_environment_file_holds_only_its_own_secrets():
    assert not DATA_SECRETS & (names("gateway.env.example") | names("common.env.example"))
    for service in WITH_DATABASE:
        assert {"DATABASE_URL", "MASTER_KEYS"} <= names(f"{service.name}.env.example")
        assert not {"CSRF_SECRET_KEY", "MIGRATION_DATABASE_URL"} & names(
            f"{service.name}.env.example")
    assert names("migrate.env.example") == {"MIGRATION_DATABASE_URL"}


def test_each_service_logs_in_as_its_own_role():
    for service in WITH_DATABASE:
        assert load(service.settings)(_env_file=None).DATABASE_URL.startswith(
            f"postgresql://{service.role}@")

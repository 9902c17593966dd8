"""Settings shared by every service (env prefix `CLAIMSTREAM_`).

Each service adds its own settings class with its own prefix (`INGEST_`,
`PROCESSORS_`, `QUERY_`). Defaults work on a developer's machine.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    # 1 suits the single local broker; a production cluster wants 3 (the k8s config map sets it).
    replication_factor: int = Field(1, ge=1, description="Replication factor of every topic the project creates, "
                                                         "faust's changelogs included")


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMSTREAM_", extra="ignore")

    namespace: str = Field("claimstream", description="Topic name prefix: <namespace>.<thing>.v1")
    log_level: str = "INFO"
    log_json: bool = False

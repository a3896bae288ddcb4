"""Settings from the environment, with embedded (laptop) defaults under RIGHTSFLOW_HOME.

Every production setting is an environment variable; the README lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TASK_QUEUE_DEFAULT = "rightsflow"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    home: Path
    catalog_dir: Path
    templates_dir: Path
    temporal_address: str
    temporal_namespace: str
    temporal_tls_cert: str | None
    temporal_tls_key: str | None
    temporal_tls_ca: str | None
    task_queue: str
    register_url: str
    s3_endpoint: str | None
    s3_region: str
    s3_bucket: str
    s3_access_key: str | None
    s3_secret_key: str | None
    codec_key_id: str | None
    codec_key: str | None
    codec_key_file: Path
    hash_key: str | None
    hash_key_file: Path
    extra: dict[str, str] = field(default_factory=dict)
    # The council a request is filed to when filing names none and the catalogue has several
    # (RIGHTSFLOW_DEFAULT_CONTROLLER, a code from catalog/controllers/); None: filing must say which.
    default_controller: str | None = None

    @property
    def stores_dir(self) -> Path:
        return self.home / "stores"

    @property
    def tls_enabled(self) -> bool:
        return bool(self.temporal_tls_cert or self.temporal_tls_ca)


def load_settings() -> Settings:
    home = Path(_env("RIGHTSFLOW_HOME", "./.rightsflow")).resolve()
    return Settings(
        home=home,
        catalog_dir=Path(_env("RIGHTSFLOW_CATALOG", str(REPO_ROOT / "catalog"))).resolve(),
        templates_dir=Path(_env("RIGHTSFLOW_TEMPLATES", str(REPO_ROOT / "templates"))).resolve(),
        temporal_address=_env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        temporal_namespace=_env("TEMPORAL_NAMESPACE", "default"),
        temporal_tls_cert=_env("TEMPORAL_TLS_CERT"),
        temporal_tls_key=_env("TEMPORAL_TLS_KEY"),
        temporal_tls_ca=_env("TEMPORAL_TLS_CA"),
        task_queue=_env("RIGHTSFLOW_TASK_QUEUE", TASK_QUEUE_DEFAULT),
        register_url=_env("RIGHTSFLOW_REGISTER_URL", f"sqlite:///{home / 'register.db'}"),
        s3_endpoint=_env("RIGHTSFLOW_S3_ENDPOINT", "http://127.0.0.1:8333"),
        s3_region=_env("RIGHTSFLOW_S3_REGION", "eu-west-2"),
        s3_bucket=_env("RIGHTSFLOW_S3_BUCKET", "rightsflow-archive"),
        s3_access_key=_env("RIGHTSFLOW_S3_ACCESS_KEY", _env("AWS_ACCESS_KEY_ID")),
        s3_secret_key=_env("RIGHTSFLOW_S3_SECRET_KEY", _env("AWS_SECRET_ACCESS_KEY")),
        codec_key_id=_env("RIGHTSFLOW_CODEC_KEY_ID"),
        codec_key=_env("RIGHTSFLOW_CODEC_KEY"),
        codec_key_file=Path(_env("RIGHTSFLOW_CODEC_KEY_FILE", str(home / "keys" / "codec.key"))),
        hash_key=_env("RIGHTSFLOW_HASH_KEY"),
        hash_key_file=Path(_env("RIGHTSFLOW_HASH_KEY_FILE", str(home / "keys" / "hash.key"))),
        default_controller=(_env("RIGHTSFLOW_DEFAULT_CONTROLLER") or "").strip() or None,
    )

"""The deployment configuration (topics.yaml): its model, loader and validation."""

from hub.config.bounds import Between, DurationBetween
from hub.config.duration import Duration, format_duration, parse_duration
from hub.config.loader import default_config_path, load_config, validate_file
from hub.config.model import (
    DEFAULT_RETENTION,
    Area,
    Bridge,
    Deployment,
    EmbeddedBrokerSettings,
    Feed,
    FeedAuth,
    HttpSettings,
    HubSettings,
    KafkaCluster,
    RegistryConnection,
    Schedule,
    StoreSettings,
    Topic,
)
from hub.config.secrets import EnvVarName, resolve_secret

__all__ = [
    "DEFAULT_RETENTION",
    "Area",
    "Between",
    "Bridge",
    "Deployment",
    "Duration",
    "DurationBetween",
    "EmbeddedBrokerSettings",
    "EnvVarName",
    "Feed",
    "FeedAuth",
    "HttpSettings",
    "HubSettings",
    "KafkaCluster",
    "RegistryConnection",
    "Schedule",
    "StoreSettings",
    "Topic",
    "default_config_path",
    "format_duration",
    "load_config",
    "parse_duration",
    "resolve_secret",
    "validate_file",
]

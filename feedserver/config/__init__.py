"""One typed configuration schema: TOML file, then environment, then command-line flags.

``schema`` holds the options (each a field of a frozen dataclass with its default and a help
text), ``loading`` builds a ``Config`` from the layers, ``example`` writes the documented
example file (``config/feedserver.example.toml``; ``tests/test_config.py`` fails when it is not
the generated one). The names most callers need are here.
"""

from feedserver.config.example import example_toml
from feedserver.config.loading import ENV_PREFIX, load
from feedserver.config.schema import (
    AvailabilityConfig,
    BridgeConfig,
    CaldavConfig,
    CalendarAccountsConfig,
    ClusterConfig,
    Config,
    ConfigError,
    FeedsConfig,
    GoogleConfig,
    NotificationsConfig,
    PushConfig,
    SmtpConfig,
    WebhooksConfig,
    option_type,
    schema,
    with_changes,
)

__all__ = [
    "ENV_PREFIX",
    "AvailabilityConfig",
    "BridgeConfig",
    "CaldavConfig",
    "CalendarAccountsConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "FeedsConfig",
    "GoogleConfig",
    "NotificationsConfig",
    "PushConfig",
    "SmtpConfig",
    "WebhooksConfig",
    "example_toml",
    "load",
    "option_type",
    "schema",
    "with_changes",
]

"""The documented example configuration (``config/feedserver.example.toml`` is this text),
generated from the schema."""

from __future__ import annotations

import dataclasses
import json
import textwrap

from feedserver.config.schema import schema

EXAMPLE_HEADER = """\
# feedserver configuration: every option with its default.
#
# Copy this file, uncomment what you change, and start the server with
#   feedserver --config my.toml serve        (or FEEDSERVER_CONFIG=my.toml)
# Each option can also be set in the environment as FEEDSERVER_<SECTION>_<OPTION>,
# for example FEEDSERVER_SERVER_PORT=9000 or FEEDSERVER_SECURITY_SECRET_KEYS="new,old"
# (lists are comma-separated). Command-line flags of `feedserver serve` win over both.
# Secrets left empty are generated on first run into DATA_DIR/secrets.json (mode 0600).
"""


def example_toml() -> str:
    """The documented example configuration (config/feedserver.example.toml is this text)."""
    lines = [EXAMPLE_HEADER]
    for section, options in schema().items():
        lines.append(f"[{section}]")
        for name, option in options.items():
            lines.extend(f"# {line}" for line in textwrap.wrap(option.metadata["help"], 94))
            default = (
                option.default
                if option.default_factory is dataclasses.MISSING
                else option.default_factory()
            )
            lines.append(f"# {name} = {json.dumps(default, ensure_ascii=False)}")
            lines.append("")
    return "\n".join(lines)

"""Model config `logging-config` (Juju's loggo syntax) and the `juju-log` level it gives
each unit: the most specific module set wins."""

from __future__ import annotations

import pytest

from runecraft import errors
from runecraft.controller.services._service import check_model_config
from runecraft.schemas.logs import parse_logging_config, unit_log_level


@pytest.mark.parametrize(
    ("config", "unit", "level"),
    [
        ("<root>=INFO", "app/0", "INFO"),
        ("", "app/0", "INFO"),
        ("<root>=DEBUG", "app/0", "DEBUG"),
        ("debug", "app/0", "DEBUG"),
        ("<root>=WARNING;unit=DEBUG", "app/0", "DEBUG"),
        ("<root>=DEBUG;unit=ERROR", "app/0", "ERROR"),
        ("unit=ERROR;unit.app/0=TRACE", "app/0", "TRACE"),
        ("unit=ERROR;unit.app/0=TRACE", "app/1", "ERROR"),
        ("unit.app/0=TRACE", "app/10", "INFO"),
        ("unit.app/0=DEBUG;unit.app/0.juju-log=WARN", "app/0", "WARNING"),
        (" <root> = error ; unit.db/2 = info ", "db/2", "INFO"),
        ("<root>=CRITICAL;juju.worker=TRACE", "app/0", "CRITICAL"),
    ],
)
def test_unit_log_level_most_specific_module_wins(config: str, unit: str, level: str) -> None:
    assert unit_log_level(parse_logging_config(config), unit) == level


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("<root>=LOUD", '"LOUD"'),
        ("unit=", '""'),
        ("un it=INFO", '"un it"'),
        ("unit..x=INFO", '"unit..x"'),
        (".unit=INFO", '".unit"'),
    ],
)
def test_bad_logging_config_names_the_entry(value: str, named: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match=named):
        parse_logging_config(value)


@pytest.mark.parametrize("value", ["<root>=LOUD", 5, ["<root>=INFO"]])
def test_model_config_refuses_bad_logging_config(value: object) -> None:
    with pytest.raises(errors.InvalidSpecError, match='model config "logging-config"'):
        check_model_config({"logging-config": value})


def test_model_config_keeps_good_logging_config() -> None:
    value = "<root>=WARNING;unit=DEBUG"
    assert check_model_config({"logging-config": value}) == {"logging-config": value}

"""The one sysctl-name and --set parser (model/sysctl_name), used by tune, whatif, the
sysctl.d parser and the range table."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memstall.model.sysctl_name import SettingError, parse_setting, swap_separators, sysctl_key, sysctl_name

SRC = Path(__file__).parent.parent / "src" / "memstall"
_PART = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=12)


@given(st.text(string.ascii_letters + "_-", min_size=1, max_size=8), st.lists(_PART, min_size=1, max_size=5))
def test_key_and_name_round_trip(first: str, rest: list[str]) -> None:
    key = "/".join([first, *rest])
    assert sysctl_key(key) == key
    assert sysctl_key(sysctl_name(key)) == key
    assert sysctl_name(key) == swap_separators(key)
    assert sysctl_key("/" + key + " ") == key


@given(st.text(string.ascii_lowercase + "_", min_size=1, max_size=20),
       st.text(string.digits + " ", min_size=0, max_size=8).filter(lambda v: v.strip() != ""),
       st.sampled_from(["=", " = ", "= ", " ="]))
def test_parse_setting(name: str, value: str, sep: str) -> None:
    assert parse_setting(f"vm.{name}{sep}{value}") == (f"vm/{name}", value.strip())
    assert parse_setting(f"vm/{name}{sep}{value}") == (f"vm/{name}", value.strip())


@pytest.mark.parametrize("bad", ["vm.swappiness", "=10", "vm.swappiness=", " = ", ""])
def test_parse_setting_refuses(bad: str) -> None:
    with pytest.raises(SettingError, match="--set takes KEY=VALUE"):
        parse_setting(bad)


def test_no_other_normalizer() -> None:
    """The name conversions live in model/sysctl_name.py only."""
    patterns = ('.replace("/", ".")', '.replace(".", "/")', "maketrans(\"./\"", "def normalize_")
    found = [(p.relative_to(SRC).as_posix(), pat) for p in SRC.rglob("*.py") for pat in patterns
             if pat in p.read_text() and p.name != "sysctl_name.py"]
    assert found == []

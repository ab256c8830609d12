"""The close-code policy: one table decides retry / give up / refresh / done."""

from __future__ import annotations

import pytest

from wslearn.close_policy import MODULE_07, RECOMMENDED, CloseAction, ClosePolicy
from wslearn.protocol import CLOSE_CODE_NAMES

RETRY, GIVE_UP, REFRESH, DONE = (CloseAction.RETRY, CloseAction.GIVE_UP, CloseAction.REFRESH,
                                 CloseAction.DONE)


@pytest.mark.parametrize(("code", "action"), [
    (1000, DONE), (1001, RETRY), (1005, RETRY), (1006, RETRY), (1011, RETRY), (1012, RETRY),
    (1013, RETRY), (1014, RETRY), (1002, GIVE_UP), (1003, GIVE_UP), (1007, GIVE_UP),
    (1008, GIVE_UP), (1009, GIVE_UP), (1010, GIVE_UP), (4401, REFRESH), (4403, GIVE_UP),
    (4000, GIVE_UP), (4999, GIVE_UP), (3000, RETRY), (1015, RETRY), (None, RETRY),
])
def test_recommended_table(code: int | None, action: CloseAction) -> None:
    assert RECOMMENDED.decide(code) is action


@pytest.mark.parametrize("code", [1000, 1001, 1006, 1011, 1012, 4000, 4401, 4403, None])
def test_module_07_retries_everything_but_1008(code: int | None) -> None:
    assert MODULE_07.decide(code) is RETRY
    assert MODULE_07.decide(1008) is GIVE_UP


def test_every_named_close_code_has_a_recommended_rule() -> None:
    """A code the course names (protocol.CLOSE_CODE_NAMES) is decided explicitly."""
    assert set(CLOSE_CODE_NAMES) <= set(RECOMMENDED.rules)


def test_tables_are_data_for_the_page() -> None:
    table = RECOMMENDED.as_table()
    assert table["rules"]["4401"] == "refresh" and table["default"] == "retry"  # type: ignore[index]
    assert MODULE_07.as_table() == {"name": "module-07", "rules": {"1008": "give-up"},
                                    "application": "retry", "default": "retry"}
    assert RECOMMENDED.codes(REFRESH) == (4401,)


def test_policy_is_immutable_and_sorted() -> None:
    policy = ClosePolicy("x", {4001: "give-up", 1001: "retry"})  # type: ignore[dict-item]
    assert list(policy.rules) == [1001, 4001]
    with pytest.raises(TypeError):
        policy.rules[1000] = DONE  # type: ignore[index]


@pytest.mark.parametrize("rules", [{999: RETRY}, {5000: RETRY}, {True: RETRY}, {"1000": RETRY}])
def test_bad_codes_are_refused(rules: dict) -> None:
    with pytest.raises(ValueError, match=r"close code is an int in 1000\.\.4999"):
        ClosePolicy("bad", rules)


def test_bad_actions_and_names_are_refused() -> None:
    with pytest.raises(ValueError):
        ClosePolicy("bad", {1000: "explode"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="name"):
        ClosePolicy("")


def test_describe_is_stable() -> None:
    text = RECOMMENDED.describe()
    assert text.splitlines()[0].startswith("   retry: 1001, 1005")
    assert "refresh: 4401" in text and "done: 1000" in text and "other 4xxx" in text

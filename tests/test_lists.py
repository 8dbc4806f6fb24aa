"""Named lists: shipped beside the rules, overridden per site, read by the features."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud_warning.cli import main
from fraud_warning.engine import Engine
from fraud_warning.features import FeatureConfig
from fraud_warning.lists import ListError, feature_config, load_lists
from fraud_warning.registry import LISTS_DIR, load_registry, rule_files
from tests.factories import Feed, subscriber
from tests.test_engine import run

RULES = Path(__file__).resolve().parent.parent / "rules"
CALLER = "+8617012345678"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def test_shipped_lists_keep_the_defaults_and_are_not_rules() -> None:
    config = feature_config(load_lists(RULES / LISTS_DIR))
    assert config.service_prefixes == FeatureConfig().service_prefixes
    assert "+8696110" in config.trusted_numbers
    assert not [p for p in rule_files(RULES) if LISTS_DIR in p.parts]


def test_a_site_replaces_or_extends_a_list(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site, "prefixes.yaml", 'list: service-prefixes\nkind: prefixes\nitems: ["+86955"]\n')
    write(
        site,
        "trusted.yaml",
        f'list: trusted-numbers\nkind: numbers\nmode: extend\nitems: ["{CALLER}"]\n',
    )
    config = feature_config(load_lists(RULES / LISTS_DIR, site))
    assert config.service_prefixes == ("+86955",)
    assert config.trusted_numbers == {"+8696110", CALLER}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("list: service-prefixes\nkind: prefixes\nitem: []\n", ":3: item: unknown field"),
        ("list: Other_List\nkind: prefixes\nitems: []\n", ":1: list: String should match"),
        ('list: lures\nkind: keywords\nitems: ["  "]\n', "a blank item"),
        ("list: lures\nkind: words\nitems: []\n", ":2: kind: Input should be"),
        ("list: trusted-numbers\nkind: prefixes\nitems: []\n", "holds numbers, not prefixes"),
        ('list: trusted-numbers\nkind: numbers\nitems: ["+86"]\n', "not a full E.164 number"),
        ('list: service-prefixes\nkind: prefixes\nitems: ["95588"]\n', "E.164 form: '95588'"),
        ("list: service-prefixes\nkind: prefixes\nitems: !!python/object:os.system {}\n", ":3"),
    ],
)
def test_bad_list_files_are_refused_naming_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    site = tmp_path / "site"
    path = write(site, "bad.yaml", text)
    with pytest.raises(ListError) as exc:
        load_lists(RULES / LISTS_DIR, site)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_a_trusted_number_is_no_stranger(tmp_path: Path) -> None:
    """A long call from an unknown number, then a large first transfer: the police
    impersonation rule fires, unless the site lists the number as trusted."""
    registry = load_registry(RULES)
    feed = Feed()
    me = subscriber(1)
    feed.call(0, CALLER, me, 1800)
    feed.transfer(2000, me, "SAFE-ACCOUNT", 30_000)
    plain = run(Engine(registry), feed)
    assert "police-impersonation-transfer" in {m["id"] for a in plain.alerts for m in a["models"]}
    site = tmp_path / "site"
    write(site, "t.yaml", f'list: trusted-numbers\nkind: numbers\nitems: ["{CALLER}"]\n')
    trusted = feature_config(load_lists(RULES / LISTS_DIR, site))
    assert run(Engine(registry, features=trusted), feed).alerts == []


def test_score_reads_site_lists_and_refuses_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = Feed()
    feed.call(0, CALLER, subscriber(1), 1800)
    feed.transfer(2000, subscriber(1), "SAFE-ACCOUNT", 30_000)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(feed.lines()) + b"\n")
    site = tmp_path / "site"
    write(site, "t.yaml", f'list: trusted-numbers\nkind: numbers\nitems: ["{CALLER}"]\n')
    out = tmp_path / "alerts.jsonl"
    argv = ["score", str(events), "--out", str(out), "--quiet", "--models", str(tmp_path)]
    assert main(argv) == 0 and out.read_text() != ""
    assert main([*argv, "--lists", str(site)]) == 0 and out.read_text() == ""
    write(site, "t.yaml", "list: trusted-numbers\nkind: numbers\nitems: [+86]\n")
    assert main([*argv, "--lists", str(site)]) == 2
    assert "t.yaml" in capsys.readouterr().err


def test_rules_test_reads_the_lists_as_score_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_dir = tmp_path / "feed"
    argv = ["feed", "generate", "--subscribers", "2000", "--hours", "6", "--seed", "3"]
    assert main([*argv, "--fraud-rate", "60", "--out", str(feed_dir), "--quiet"]) == 0
    rule = str(RULES / "victim" / "police-impersonation-transfer.yaml")
    test = ["rules", "test", rule, "--feed", str(feed_dir), "--json"]
    assert main(test) == 0
    import json

    hits = json.loads(capsys.readouterr().out)["rules"]["hits"]
    assert hits > 0
    site = tmp_path / "site"  # every number a service: no stranger's call, no hit
    prefixes = ", ".join(f'"+{d}"' for d in range(1, 10))
    write(site, "p.yaml", f"list: service-prefixes\nkind: prefixes\nitems: [{prefixes}]\n")
    assert main([*test, "--lists", str(site)]) == 0
    assert json.loads(capsys.readouterr().out)["rules"]["hits"] == 0


def test_a_service_number_is_one_a_prefix_starts_or_the_trusted_list_names() -> None:
    """A prefix, of any length (empty, or longer than the number), or a trusted number."""
    import random

    from fraud_warning.join import Sides
    from fraud_warning.refdata import RefData

    rng = random.Random(5)
    digits = "0123456789"
    for _ in range(200):
        prefixes = tuple(
            "+" + "".join(rng.choice(digits[:3]) for _ in range(rng.randrange(0, 8)))
            for _ in range(rng.randrange(0, 5))
        )
        trusted = frozenset(f"+{rng.randrange(1000)}" for _ in range(3))
        sides = Sides(RefData.empty(), {}, FeatureConfig(prefixes, trusted))
        for _ in range(50):
            number = "+" + "".join(rng.choice(digits[:3]) for _ in range(rng.randrange(0, 10)))
            want = number.startswith(prefixes) or number in trusted
            assert sides.is_service(number) == want, (prefixes, number)
